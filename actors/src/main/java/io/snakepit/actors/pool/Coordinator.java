package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.JournalUnavailableException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.SnakepitException;
import io.snakepit.WorkerStartException;
import io.snakepit.actors.pool.PoolActor.Abort;
import io.snakepit.actors.pool.PoolActor.Begin;
import io.snakepit.actors.pool.PoolActor.Command;
import io.snakepit.actors.pool.PoolActor.FromWorker;
import io.snakepit.actors.pool.PoolActor.Retry;
import io.snakepit.actors.pool.PoolActor.Shutdown;
import io.snakepit.actors.pool.PoolActor.Stop;
import io.snakepit.actors.pool.PoolActor.Submit;
import io.snakepit.actors.pool.PoolActor.SweepQueue;
import io.snakepit.actors.pool.PoolActor.SweepSessions;
import io.snakepit.actors.pool.PoolActor.WorkerGone;
import io.snakepit.actors.pool.PoolActor.WorkerStartReply;
import io.snakepit.actors.pool.PoolActor.WorkersGone;
import io.snakepit.actors.pool.PoolActor.WorkersUp;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * One pool coordinator's collaborators and waiters, shared by its phases ({@link StartingPhase}, {@link RunningPhase},
 * {@link EndingPhase}), with the handlers every phase uses; what differs by phase comes in as a parameter. Used on the
 * actor's thread only.
 */
final class Coordinator {

  final ActorContext<Command> context;
  final TimerScheduler<Command> timers;
  final PoolSettings settings;
  final PoolRuntime runtime;
  final Slots slots;
  final SlotWorkers slotWorkers;
  final Dispatch dispatch;
  final Restarts restarts;
  /** Who waits for the first start; only the waiting and starting phases add to it. */
  final List<CompletableFuture<Void>> readyWaiters = new ArrayList<>();
  final List<CompletableFuture<Void>> stopWaiters = new ArrayList<>();
  final StartingPhase starting;
  final RunningPhase running;
  final EndingPhase ending;
  private long retryKeys;

  Coordinator(ActorContext<Command> context, TimerScheduler<Command> timers, PoolSettings settings,
      PoolRuntime runtime, PoolLink link) {
    this.context = context;
    this.timers = timers;
    this.settings = settings;
    this.runtime = runtime;
    this.slots = new Slots(settings.name(), settings.workers(), settings.spares());
    this.slotWorkers = new SlotWorkers(context, timers, settings, runtime, slots,
        context.messageAdapter(WorkerActor.Event.class, FromWorker::new));
    this.dispatch = new Dispatch(settings, settings.worker().concurrency(), System::nanoTime, context.getLog(),
        (slot, job) -> slot.worker().tell(new WorkerActor.Execute(job)));
    this.restarts = new Restarts(settings);
    this.starting = new StartingPhase(this);
    this.running = new RunningPhase(this);
    this.ending = new EndingPhase(this);
    link.coordinatorUp(context.getSelf());
    context.pipeToSelf(link.settlement(), (done, error) -> error == null ? Begin.INSTANCE
        : new Abort(new SnakepitException("settling what an earlier JVM left failed, so no worker was started: "
            + error.getMessage(), error)));
    long sweep = Math.max(100, Math.min(10_000, settings.sessionTtl().toMillis() / 4));
    timers.startTimerWithFixedDelay(SweepSessions.INSTANCE, Duration.ofMillis(sweep));
    if (!settings.queueTimeout().isZero()) {
      timers.startTimerWithFixedDelay(SweepQueue.INSTANCE,
          Duration.ofMillis(Math.max(10, Math.min(100, settings.queueTimeout().toMillis() / 4))));
    }
  }

  /** Waits for the node's settlement and the worker supervisor; its first behaviour. */
  Behavior<Command> start() {
    return starting.waiting(false);
  }

  /**
   * A receive with what every phase does alike: calls ({@link Submit}, {@link Retry}, bounced ones) go to
   * {@code submit}, the workers' events to {@link #onWorkerEvent} and then {@code react}, the sweeps and the worker
   * supervisor's end are handled, and whoever still waits at the end gets a typed error.
   */
  BehaviorBuilder<Command> receive(Function<Job, Behavior<Command>> submit,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    return Behaviors.receive(Command.class)
        .onSignal(PostStop.class, signal -> onPostStop())
        .onMessage(Submit.class, msg -> submit.apply(msg.job()))
        .onMessage(Retry.class, msg -> submit.apply(msg.job()))
        .onMessage(FromWorker.class, msg -> onWorkerEvent(msg, submit, react))
        .onMessage(WorkerStartReply.class, msg -> onWorkerStartReply(msg, react))
        .onMessage(WorkersGone.class, msg -> with(() -> slotWorkers.supervisorGone(msg.workers())))
        .onMessageEquals(SweepQueue.INSTANCE, () -> with(dispatch::expireQueued))
        .onMessageEquals(SweepSessions.INSTANCE, () -> with(dispatch::expireSessions));
  }

  /** The phases before the end (waiting, starting, running): calls are taken, and a stop begins the end. */
  BehaviorBuilder<Command> receiveCalls(BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    return receive(this::submit, react)
        .onMessage(Shutdown.class, ending::onShutdown)
        .onMessageEquals(Stop.INSTANCE, ending::onStop);
  }

  /** Queues or dispatches a call, unless no worker can take one (then it fails at once, saying why). */
  Behavior<Command> submit(Job job) {
    // No live worker, and none can be started: say why rather than queue the call or blame the workers.
    noLiveWorker().ifPresentOrElse(job::fail, () -> dispatch.submit(job));
    return Behaviors.same();
  }

  /** No serving worker while the journal fails writes (so none can start): the error that says why. */
  Optional<JournalUnavailableException> noLiveWorker() {
    return slots.noServingWorker() ? runtime.journal().unavailable().map(why -> new JournalUnavailableException(
        "pool '" + settings.name() + "' has no live worker: " + why)) : Optional.empty();
  }

  Behavior<Command> with(Runnable action) {
    action.run();
    return Behaviors.same();
  }

  /** The reaction of a phase that has no worker to care for (waiting, failed, stopping). */
  Behavior<Command> ignore(Slot slot, WorkerActor.Event event) {
    return Behaviors.same();
  }

  /** {@code spawnParked}: a running pool also restarts the slots parked while no supervisor was there. */
  Behavior<Command> onWorkersUp(WorkersUp msg, boolean spawnParked) {
    slotWorkers.supervisorUp(msg.workers());
    for (Slot slot : slots) {
      Slot.State state = slot.state();
      if (state == Slot.State.AWAITING_SUPERVISOR || (state == Slot.State.PARKED && spawnParked)) {
        slotWorkers.spawn(slot);
      }
    }
    return Behaviors.same();
  }

  /** A worker the supervisor did not start is, to the phase ({@code react}), a worker that failed to start. */
  private Behavior<Command> onWorkerStartReply(WorkerStartReply msg,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    Slot slot = slots.current(msg.workerId());
    if (slot == null) {
      return Behaviors.same();
    }
    if (msg.reply() instanceof Supervisor.Started started) {
      @SuppressWarnings("unchecked")
      ActorRef<WorkerActor.Command> ref = (ActorRef<WorkerActor.Command>) started.child();
      slotWorkers.attach(slot, ref);
      return Behaviors.same();
    }
    String why = msg.error() != null ? msg.error().getMessage() : String.valueOf(msg.reply());
    Behavior<Command> next = slot.state() == Slot.State.STOPPING ? Behaviors.same()
        : react.apply(slot, new WorkerActor.StartFailed(slot.workerId(), new WorkerStartException(
            "the pool's worker supervisor did not start worker " + slot.workerId() + ": " + why, List.of())));
    if (slot.state() == Slot.State.STOPPING) {
      // Stopped (before, or by the failure just reported) while its actor did not exist, and now it never will:
      // the slot ends as if its worker had, or a stopping pool would wait for it until its shutdown timeout.
      context.getSelf().tell(new PoolActor.WorkerGone(slot.workerId()));
    }
    return next;
  }

  /**
   * A worker's event: what every phase does with it, then the phase's reaction ({@code react}) if it came from its
   * slot's current worker. A call bounced back goes to {@code submit}.
   */
  private Behavior<Command> onWorkerEvent(FromWorker msg, Function<Job, Behavior<Command>> submit,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    WorkerActor.Event event = msg.event();
    if (event instanceof WorkerActor.Exited) {
      slotWorkers.dispose(event.workerId());
    } else if (event instanceof WorkerActor.Bounced bounced) {
      return submit.apply(bounced.job());
    }
    Slot slot = slots.current(event.workerId());
    if (slot == null) {
      return Behaviors.same();
    }
    if (event instanceof WorkerActor.Ready ready) {
      slotWorkers.attach(slot, ready.worker());
      slot.becameReady();
    } else if (event instanceof WorkerActor.Idle idle) {
      if (idle.failed()) {
        dispatch.failed();
      } else {
        dispatch.succeeded();
      }
      slot.callEnded();
    } else if (event instanceof WorkerActor.Exited exited) {
      slot.exited();
      dispatch.withdraw(slot);
      retry(exited.retry());
    }
    return react.apply(slot, event);
  }

  /** Idempotent calls a crash interrupted: again, elsewhere, after a backoff that doubles per attempt. */
  private void retry(List<Job> jobs) {
    for (Job job : jobs) {
      Duration delay = restarts.retryDelay(job.attempt());
      context.getLog().info("pool '{}': retrying idempotent call to '{}' (attempt {}) in {} ms", settings.name(),
          job.request().getTool(), job.attempt() + 1, delay.toMillis());
      timers.startSingleTimer("retry-" + retryKeys++, new Retry(job), delay);
    }
  }

  /** {@code serving}: a starting or running pool replaces a worker whose actor ended without reporting an exit. */
  Behavior<Command> onWorkerGone(WorkerGone msg, boolean serving) {
    Slot slot = slotWorkers.ended(msg.workerId());
    if (slot != null) {
      dispatch.withdraw(slot);
      if (slot.state() == Slot.State.VACANT && serving) {
        // The actor ended without reporting an exit (it failed): its process is gone with it; replace it.
        slotWorkers.spawn(slot);
      }
    }
    return Behaviors.same();
  }

  /** Stopped by its supervisor or failed: whoever still waits here gets a typed error, not silence. */
  private Behavior<Command> onPostStop() {
    PoolUnavailableException gone = new PoolUnavailableException("pool '" + settings.name()
        + "': its coordinator stopped before the call reached a worker", null);
    dispatch.closeAll(gone, slots);
    readyWaiters.forEach(p -> p.completeExceptionally(gone));
    stopWaiters.forEach(p -> p.complete(null));
    return Behaviors.same();
  }
}
