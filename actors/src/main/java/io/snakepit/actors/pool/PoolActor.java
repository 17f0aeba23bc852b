package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.JournalUnavailableException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.SnakepitException;
import io.snakepit.WorkerStartException;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Keeps a pool's workers: starts them all at once, hands each call to the idle worker that has waited longest,
 * queues calls (up to a bound) while all are busy, and replaces a worker whose process ended.
 *
 * <p>The pool's first start is all or nothing: if any worker fails to start, the pool stops the others and fails,
 * with that worker's error (and its stderr) as the reason.
 */
public final class PoolActor extends AbstractBehavior<PoolActor.Command> {

  /** What a pool accepts. */
  public interface Command {}

  /** Run a call on some worker. */
  public record Submit(Job job) implements Command {}

  /** Complete the promise once every worker is up (or fail it if the pool cannot start). */
  public record AwaitReady(CompletableFuture<Void> promise) implements Command {}

  /** Stop every worker, then complete the promise and stop. */
  public record Shutdown(CompletableFuture<Void> promise) implements Command {}

  /** The pool's worker supervisor is up (again): workers start under it. */
  public record WorkersUp(ActorRef<Supervisor.Command> workers) implements Command {}

  /** The coordinator's stop message (its supervisor's ordered shutdown): stop the workers left, then stop. */
  public enum Stop implements Command { INSTANCE }

  /** What the worker template of the pool's worker supervisor is started with. */
  public record WorkerStart(Launch launch, ActorRef<WorkerActor.Event> events) {}

  /** Start the workers: the node has settled what earlier JVMs left. */
  private enum Begin implements Command { INSTANCE }

  /** Do not start: the node cannot run workers; calls fail with this error. */
  private record Abort(SnakepitException error) implements Command {}

  record WorkerStartReply(String workerId, Supervisor.Reply reply, Throwable error) implements Command {}

  record WorkersGone(ActorRef<Supervisor.Command> workers) implements Command {}

  private record FromWorker(WorkerActor.Event event) implements Command {}

  record WorkerGone(String workerId) implements Command {}

  record Respawn(int slot) implements Command {}

  private enum SweepQueue implements Command { INSTANCE }

  private enum SweepSessions implements Command { INSTANCE }

  private record Retry(Job job) implements Command {}

  private enum Phase { WAITING, STARTING, RUNNING, FAILED, STOPPING }

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final PoolSettings settings;
  private final PoolRuntime runtime;
  private final Slots slots;
  private final SlotWorkers slotWorkers;
  private final Dispatch dispatch;
  private final Restarts restarts;
  private final List<CompletableFuture<Void>> readyWaiters = new ArrayList<>();
  private final List<CompletableFuture<Void>> stopWaiters = new ArrayList<>();

  private Phase phase = Phase.WAITING;
  private boolean begun;
  private long retryKeys;
  private SnakepitException failure;

  /**
   * A pool's coordinator: it publishes itself through {@code link}, and starts its workers under the worker
   * supervisor that announces itself ({@link WorkersUp}) once the node's settlement is done.
   */
  public static Behavior<Command> create(PoolSettings settings, PoolRuntime runtime, PoolLink link) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new PoolActor(ctx, timers, settings, runtime, link)));
  }

  private PoolActor(ActorContext<Command> context, TimerScheduler<Command> timers, PoolSettings settings,
      PoolRuntime runtime, PoolLink link) {
    super(context);
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

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Begin.INSTANCE, this::onBegin)
        .onMessage(WorkersUp.class, this::onWorkersUp)
        .onMessage(WorkersGone.class, msg -> with(() -> slotWorkers.supervisorGone(msg.workers())))
        .onMessage(WorkerStartReply.class, this::onWorkerStartReply)
        .onMessageEquals(Stop.INSTANCE, () -> onShutdown(new Shutdown(new CompletableFuture<>())))
        .onSignal(PostStop.class, signal -> onPostStop())
        .onMessage(Abort.class, this::onAbort)
        .onMessage(Submit.class, msg -> onSubmit(msg.job()))
        .onMessage(FromWorker.class, this::onWorkerEvent)
        .onMessage(WorkerGone.class, this::onWorkerGone)
        .onMessage(Respawn.class, this::onRespawn)
        .onMessageEquals(SweepQueue.INSTANCE, () -> with(dispatch::expireQueued))
        .onMessageEquals(SweepSessions.INSTANCE, () -> with(dispatch::expireSessions))
        .onMessage(Retry.class, msg -> onSubmit(msg.job()))
        .onMessage(AwaitReady.class, this::onAwaitReady)
        .onMessage(Shutdown.class, this::onShutdown)
        .build();
  }

  private Behavior<Command> onBegin() {
    begun = true;
    return maybeStart();
  }

  private Behavior<Command> onWorkersUp(WorkersUp msg) {
    slotWorkers.supervisorUp(msg.workers());
    for (Slot slot : slots) {
      Slot.State state = slot.state();
      if (state == Slot.State.AWAITING_SUPERVISOR || (state == Slot.State.PARKED && phase == Phase.RUNNING)) {
        slotWorkers.spawn(slot);
      }
    }
    return maybeStart();
  }

  private Behavior<Command> onWorkerStartReply(WorkerStartReply msg) {
    Slot slot = slots.current(msg.workerId());
    if (slot == null) {
      return this;
    }
    if (msg.reply() instanceof Supervisor.Started started) {
      @SuppressWarnings("unchecked")
      ActorRef<WorkerActor.Command> ref = (ActorRef<WorkerActor.Command>) started.child();
      slotWorkers.attach(slot, ref);
    } else {
      String why = msg.error() != null ? msg.error().getMessage() : String.valueOf(msg.reply());
      onStartFailed(slot, new WorkerActor.StartFailed(slot.workerId(), new WorkerStartException(
          "the pool's worker supervisor did not start worker " + slot.workerId() + ": " + why, List.of())));
    }
    return this;
  }

  private Behavior<Command> maybeStart() {
    if (phase == Phase.WAITING && begun && slotWorkers.supervisorUp()) {
      phase = Phase.STARTING;
      context.getLog().info("pool '{}' starting {} workers and {} spares of {}", settings.name(), settings.workers(),
          settings.spares(), settings.worker().adapter());
      slots.forEach(slotWorkers::spawn);
    }
    return this;
  }

  private Behavior<Command> onAbort(Abort msg) {
    if (phase == Phase.WAITING) {
      fail(msg.error());
    }
    return maybeFinishStop();
  }

  private Behavior<Command> onSubmit(Job job) {
    if (phase == Phase.FAILED) {
      job.fail(new PoolUnavailableException("pool '" + settings.name() + "' failed to start: "
          + failure.getMessage(), failure));
    } else if (phase == Phase.STOPPING) {
      job.fail(new PoolUnavailableException("pool '" + settings.name() + "' is stopping", null));
    } else {
      // No live worker, and none can be started: say why rather than queue the call or blame the workers.
      noLiveWorker().ifPresentOrElse(job::fail, () -> dispatch.submit(job));
    }
    return this;
  }

  /** No serving worker while the journal fails writes (so none can start): the error that says why. */
  private Optional<JournalUnavailableException> noLiveWorker() {
    return slots.noServingWorker() ? runtime.journal().unavailable().map(why -> new JournalUnavailableException(
        "pool '" + settings.name() + "' has no live worker: " + why)) : Optional.empty();
  }

  private Behavior<Command> with(Runnable action) {
    action.run();
    return this;
  }

  private boolean serving() {
    return phase == Phase.RUNNING || phase == Phase.STARTING;
  }

  private Behavior<Command> onWorkerEvent(FromWorker msg) {
    WorkerActor.Event event = msg.event();
    if (event instanceof WorkerActor.Exited) {
      slotWorkers.dispose(event.workerId());
    } else if (event instanceof WorkerActor.Bounced bounced) {
      return onSubmit(bounced.job());
    }
    Slot slot = slots.current(event.workerId());
    if (slot == null) {
      return this;
    }
    if (event instanceof WorkerActor.Ready ready) {
      onReady(slot, ready);
    } else if (event instanceof WorkerActor.Idle idleEvent) {
      if (idleEvent.failed()) {
        dispatch.failed();
      } else {
        dispatch.succeeded();
      }
      slot.callEnded();
      if (slot.draining()) {
        replaceIfDrained(slot);
      } else if (slot.ready() && serving()) {
        dispatch.offer(slot);
      }
    } else if (event instanceof WorkerActor.RecycleDue) {
      if (phase == Phase.RUNNING && slot.state() == Slot.State.READY) {
        slot.drain();
        dispatch.withdraw(slot);
        replaceIfDrained(slot);
      }
    } else if (event instanceof WorkerActor.StartFailed failed) {
      onStartFailed(slot, failed);
    } else if (event instanceof WorkerActor.Exited exited) {
      onExited(slot, exited);
    }
    return this;
  }

  private void onReady(Slot slot, WorkerActor.Ready ready) {
    slotWorkers.attach(slot, ready.worker());
    slot.becameReady();
    if (!slot.spare && serving()) {
      dispatch.offer(slot);
    } else if (slot.spare && phase == Phase.RUNNING) {
      takeOverAStart(slot);
    }
    if (phase == Phase.STARTING && slots.allReady()) {
      phase = Phase.RUNNING;
      context.getLog().info("pool '{}' ready: {} workers, {} spares", settings.name(), settings.workers(),
          settings.spares());
      readyWaiters.forEach(p -> p.complete(null));
      readyWaiters.clear();
    }
  }

  private void onStartFailed(Slot slot, WorkerActor.StartFailed failed) {
    if (phase == Phase.STARTING) {
      fail(failed.error());
    } else if (phase == Phase.RUNNING) {
      dispatch.failed();
      int failures = slot.startFailed();
      Duration delay = restarts.backoff(failures);
      context.getLog().warn("pool '{}': replacement worker {} failed to start; retrying in {} ms: {}",
          settings.name(), slot.workerId(), delay.toMillis(), failed.error().getMessage());
      slotWorkers.respawnLater(slot, delay);
      noLiveWorker().ifPresent(dispatch::failQueued); // calls queued for a worker that cannot start: why, now
    }
  }

  /** A recycled worker with no call left is stopped; a spare or a fresh one takes its slot. */
  private void replaceIfDrained(Slot slot) {
    if (slot.inFlight() == 0 && phase == Phase.RUNNING) {
      context.getLog().info("pool '{}': replacing worker {} (recycled)", settings.name(), slot.workerId());
      slotWorkers.stop(slot);
      replace(slot);
    }
  }

  /** A ready spare takes the slot at once (and a new spare starts), else a fresh worker starts in it. */
  private void replace(Slot slot) {
    Slot spare = slot.spare ? null : slots.readySpare();
    if (spare == null) {
      slotWorkers.spawn(slot);
      return;
    }
    context.getLog().info("pool '{}': spare worker {} takes slot {}", settings.name(), spare.workerId(), slot.index);
    slots.giveWorker(spare, slot);
    slotWorkers.spawn(spare);
    dispatch.offer(slot);
  }

  /**
   * A spare that is ready while a serving slot still waits for its own replacement to start swaps with it: the slot
   * serves now, and the worker still starting becomes the spare. A slot that waits out a backoff is left to it.
   */
  private void takeOverAStart(Slot spare) {
    Slot waiting = slots.startingServingSlot();
    if (waiting == null) {
      return;
    }
    context.getLog().info("pool '{}': spare worker {} takes slot {}; its starting worker {} becomes a spare",
        settings.name(), spare.workerId(), waiting.index, waiting.workerId());
    slots.swapWorkers(waiting, spare);
    dispatch.offer(waiting);
  }

  private void onExited(Slot slot, WorkerActor.Exited exited) {
    slot.exited();
    dispatch.withdraw(slot);
    for (Job job : exited.retry()) {
      // Idempotent calls the crash interrupted: again, elsewhere, after a backoff that doubles per attempt.
      Duration delay = restarts.retryDelay(job.attempt());
      context.getLog().info("pool '{}': retrying idempotent call to '{}' (attempt {}) in {} ms", settings.name(),
          job.request().getTool(), job.attempt() + 1, delay.toMillis());
      timers.startSingleTimer("retry-" + retryKeys++, new Retry(job), delay);
    }
    if (exited.requested() || !serving()) {
      // Stopped, but not by this coordinator (it would be STOPPING, or the slot replaced): its supervisor is
      // shutting down or restarting; the slot waits for the next worker supervisor.
      if (exited.requested() && serving()) {
        slot.leave();
      }
      return;
    }
    if (exited.duringCall()) {
      // A call crashed it: the tool's failure, like a Python exception, not the slot's. Every such respawn served a
      // call first, so this cannot spin without calls; the breaker and the taint count only deaths without one.
      dispatch.succeeded();
      context.getLog().warn("pool '{}': worker {} {} while serving a call; replacing it", settings.name(),
          exited.workerId(), exited.status());
      replace(slot);
      return;
    }
    dispatch.failed();
    int crashes = slot.crashed(System.nanoTime(), settings.taintWindow());
    if (restarts.tainted(crashes)) {
      // Tainted: its workers die by themselves again and again; back off rather than feed it a fresh process at once.
      Duration delay = restarts.taintBackoff(crashes);
      context.getLog().warn("pool '{}': worker {} {} without a call; slot {} lost {} workers without a call within"
          + " {} s (tainted): replacing it in {} ms", settings.name(), exited.workerId(), exited.status(), slot.index,
          crashes, settings.taintWindow().toSeconds(), delay.toMillis());
      slot.backOff();
      slotWorkers.respawnLater(slot, delay);
      return;
    }
    context.getLog().warn("pool '{}': worker {} {} without a call; replacing it", settings.name(),
        exited.workerId(), exited.status());
    replace(slot);
  }

  private Behavior<Command> onRespawn(Respawn msg) {
    Slot slot = slots.get(msg.slot());
    if (phase == Phase.RUNNING && !slot.alive()) {
      slotWorkers.spawn(slot);
    }
    return this;
  }

  private void fail(SnakepitException error) {
    phase = Phase.FAILED;
    failure = error;
    context.getLog().error("pool '{}' failed to start: {}", settings.name(), error.getMessage());
    readyWaiters.forEach(p -> p.completeExceptionally(error));
    readyWaiters.clear();
    dispatch.closeAll(new PoolUnavailableException("pool '" + settings.name() + "' failed to start: "
        + error.getMessage(), error), slots);
    slotWorkers.stopAll();
  }

  private Behavior<Command> onWorkerGone(WorkerGone msg) {
    Slot slot = slotWorkers.ended(msg.workerId());
    if (slot != null) {
      dispatch.withdraw(slot);
      if (slot.state() == Slot.State.VACANT && serving()) {
        // The actor ended without reporting an exit (it failed): its process is gone with it; replace it.
        slotWorkers.spawn(slot);
      }
    }
    return maybeFinishStop();
  }

  private Behavior<Command> onAwaitReady(AwaitReady msg) {
    switch (phase) {
      case RUNNING -> msg.promise().complete(null);
      case FAILED -> msg.promise().completeExceptionally(failure);
      case STOPPING -> msg.promise().completeExceptionally(
          new PoolUnavailableException("pool '" + settings.name() + "' is stopping", null));
      default -> readyWaiters.add(msg.promise());
    }
    return this;
  }

  private Behavior<Command> onShutdown(Shutdown msg) {
    stopWaiters.add(msg.promise());
    if (phase != Phase.STOPPING) {
      if (phase == Phase.STARTING || phase == Phase.WAITING) {
        readyWaiters.forEach(p -> p.completeExceptionally(
            new PoolUnavailableException("pool '" + settings.name() + "' was stopped while starting", null)));
        readyWaiters.clear();
      }
      phase = Phase.STOPPING;
      dispatch.closeAll(new PoolUnavailableException("pool '" + settings.name()
          + "' stopped before the call reached a worker", null), slots);
      timers.cancelAll();
      slotWorkers.stopAll();
    }
    return maybeFinishStop();
  }

  /** Stopped by its supervisor or failed: whoever still waits here gets a typed error, not silence. */
  private Behavior<Command> onPostStop() {
    PoolUnavailableException gone = new PoolUnavailableException("pool '" + settings.name()
        + "': its coordinator stopped before the call reached a worker", null);
    dispatch.closeAll(gone, slots);
    readyWaiters.forEach(p -> p.completeExceptionally(gone));
    stopWaiters.forEach(p -> p.complete(null));
    return this;
  }

  private Behavior<Command> maybeFinishStop() {
    if (phase == Phase.STOPPING && slots.noneAlive()) {
      context.getLog().info("pool '{}' stopped", settings.name());
      stopWaiters.forEach(p -> p.complete(null));
      return Behaviors.stopped();
    }
    return this;
  }
}
