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
import io.snakepit.actors.Events;
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
import io.snakepit.actors.worker.Adoption;
import io.snakepit.actors.worker.WorkerActor;
import io.snakepit.actors.worker.WorkerPort;
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
  /** Where the pool's lifecycle is published. */
  final Events events;
  /** Who waits for the first start; only the waiting and starting phases add to it. */
  final List<CompletableFuture<Void>> readyWaiters = new ArrayList<>();
  final List<CompletableFuture<Void>> stopWaiters = new ArrayList<>();
  /** Who waits for a resize to be done. */
  final List<CompletableFuture<Integer>> resizeWaiters = new ArrayList<>();
  private final PoolLink link;
  final StartingPhase starting;
  final RunningPhase running;
  final EndingPhase ending;
  private final HealthRounds healthRounds;
  /** Journals the slots' adapter states for the next JVM. */
  final StateKeeper states;
  /** A worker said its adapter defines no snapshot(): recycled workers are replaced without asking for one. */
  boolean stateless;
  private long retryKeys;

  Coordinator(ActorContext<Command> context, TimerScheduler<Command> timers, PoolSettings settings,
      PoolRuntime runtime, PoolLink link) {
    this.context = context;
    this.timers = timers;
    this.link = link;
    settings = link.current(settings); // a coordinator restarted after a resize keeps the resized size
    this.settings = settings;
    this.runtime = runtime;
    this.slots = new Slots(settings.name(), settings.workers(), settings.spares());
    this.slotWorkers = new SlotWorkers(context, timers, settings, runtime, slots,
        context.messageAdapter(WorkerActor.Event.class, FromWorker::new));
    this.events = Events.of(context.getSystem());
    this.dispatch = new Dispatch(settings, settings.worker().concurrency(), System::nanoTime, context.getLog(), events,
        link.lane(), Coordinator::send);
    this.restarts = new Restarts(settings);
    this.starting = new StartingPhase(this);
    this.running = new RunningPhase(this);
    this.ending = new EndingPhase(this);
    link.lane().clear(); // what a predecessor lent was revoked as it stopped; callers start from an empty lane
    link.queueDepthFrom(dispatch.queueDepth());
    link.coordinatorUp(context.getSelf());
    this.states = new StateKeeper(settings.name(), runtime.journal(), context.getLog());
    // The slots' journaled states are read once the settlement is done, before the first worker starts.
    context.pipeToSelf(link.settlement().thenCompose(done -> runtime.journal().states(this.settings.name())
            .handle((states, error) -> new PoolActor.StatesLoaded(states, error))),
        (loaded, error) -> error == null ? loaded
            : new Abort(new SnakepitException("settling what an earlier JVM left failed, so no worker was started: "
                + error.getMessage(), error)));
    this.healthRounds = new HealthRounds(settings.worker().health());
    if (!settings.worker().health().interval().isZero()) {
      timers.startTimerWithFixedDelay(PoolActor.HealthRound.INSTANCE, settings.worker().health().interval());
    }
    long sweep = Math.max(100, Math.min(10_000, settings.sessionTtl().toMillis() / 4));
    timers.startTimerWithFixedDelay(SweepSessions.INSTANCE, Duration.ofMillis(sweep));
    if (!settings.queueTimeout().isZero()) {
      timers.startTimerWithFixedDelay(SweepQueue.INSTANCE,
          Duration.ofMillis(Math.max(10, Math.min(100, settings.queueTimeout().toMillis() / 4))));
    }
  }

  /** Gives {@code job} to {@code slot}'s worker: through its port when it takes it there, else to its actor. */
  private static void send(Slot slot, Job job) {
    WorkerPort port = slot.port();
    if (port == null || !port.tryExecute(job)) {
      slot.worker().tell(new WorkerActor.Execute(job));
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
        .onMessage(PoolActor.PermitUnused.class, msg -> onPermitUnused(msg, react))
        .onMessage(PoolActor.StatesLoaded.class, this::onStatesLoaded)
        .onMessage(WorkerStartReply.class, msg -> onWorkerStartReply(msg, react))
        .onMessage(WorkersGone.class, msg -> with(() -> slotWorkers.supervisorGone(msg.workers())))
        .onMessage(PoolActor.RecycleWorker.class, this::onRecycleWorker)
        .onMessageEquals(SweepQueue.INSTANCE, () -> with(dispatch::expireQueued))
        .onMessageEquals(SweepSessions.INSTANCE, () -> with(dispatch::expireSessions))
        .onMessage(PoolActor.SessionIdle.class, msg -> with(() ->
            msg.promise().complete(dispatch.sessionIdleMillis(msg.session()))))
        .onMessageEquals(PoolActor.HealthRound.INSTANCE, () -> with(() -> healthRounds.next(slots.withReadyWorker())
            .forEach(slot -> slot.worker().tell(WorkerActor.HealthTick.INSTANCE))));
  }

  /**
   * The states an earlier JVM journaled go to their slots (the serving ones this pool still has), for their first
   * workers to restore; then the pool begins. A journal that cannot be read costs the states, not the start.
   */
  private Behavior<Command> onStatesLoaded(PoolActor.StatesLoaded msg) {
    if (msg.error() != null) {
      context.getLog().warn("pool '{}': could not read the adapter states journaled by an earlier JVM; its workers"
          + " start without them: {}", settings.name(), msg.error().getMessage());
    } else if (!msg.states().isEmpty()) {
      states.loaded(msg.states());
      msg.states().forEach((index, state) -> {
        Slot slot = slots.get(index);
        if (slot != null && !slot.spare && slot.adapterState() == null) {
          slot.keepAdapterState(state);
        }
      });
      context.getLog().info("pool '{}': {} slot state(s) journaled by an earlier JVM will be restored",
          settings.name(), msg.states().size());
    }
    for (Adoption adoption : link.takeAdopted()) {
      int index = Adoption.slotAndGeneration(adoption.launch().workerId())[0];
      Slot slot = slots.get(index);
      if (slot != null) {
        slotWorkers.adoptAt(index, adoption);
      } else {
        context.getLog().warn("pool '{}': no slot {} for adopted worker {}; letting it go", settings.name(), index,
            adoption.launch().workerId());
        adoption.abandon();
      }
    }
    context.getSelf().tell(Begin.INSTANCE);
    return Behaviors.same();
  }

  /** Passes a recycle request on to the worker, if it is still its slot's ready worker (not draining already). */
  private Behavior<Command> onRecycleWorker(PoolActor.RecycleWorker msg) {
    Slot slot = slots.current(msg.workerId());
    if (slot != null && slot.state() == Slot.State.READY && slot.worker() != null) {
      slot.worker().tell(new WorkerActor.Recycle(msg.reason()));
    } else {
      context.getLog().debug("pool '{}': worker {} is not a ready worker of the pool any more; not recycling it ({})",
          settings.name(), msg.workerId(), msg.reason());
    }
    return Behaviors.same();
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

  /**
   * No serving worker while the journal fails writes (so none can start): the error that says why. The journal's
   * state is one read, asked first: the slots are walked only during an outage, not on every call.
   */
  Optional<JournalUnavailableException> noLiveWorker() {
    return runtime.journal().unavailable().filter(why -> slots.noServingWorker())
        .map(why -> new JournalUnavailableException("pool '" + settings.name() + "' has no live worker: " + why));
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
    slotWorkers.startEnded(msg.workerId());
    String why = msg.error() != null ? msg.error().getMessage() : String.valueOf(msg.reply());
    // No actor was started, so none will end: its end comes from here, after the phase has seen the failure.
    context.getSelf().tell(new WorkerGone(msg.workerId()));
    return react.apply(slot, new WorkerActor.StartFailed(slot.workerId(), new WorkerStartException(
        "the pool's worker supervisor did not start worker " + slot.workerId() + ": " + why, List.of())));
  }

  /**
   * A worker's event: what every phase does with it, then the phase's reaction ({@code react}) if it came from its
   * slot's current worker. A call bounced back goes to {@code submit}.
   */
  private Behavior<Command> onWorkerEvent(FromWorker msg, Function<Job, Behavior<Command>> submit,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    WorkerActor.Event event = msg.event();
    if (event instanceof WorkerActor.Ready || event instanceof WorkerActor.StartFailed
        || event instanceof WorkerActor.Exited) {
      slotWorkers.startEnded(event.workerId());
    }
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
      if (slotWorkers.wasAdopted(ready.workerId())) {
        link.adoptedWorkerReady();
      }
      slotWorkers.attach(slot, ready.worker());
      slot.becameReady(ready.port());
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
    } else if (event instanceof WorkerActor.StateTaken taken && taken.state() != null) {
      slot.keepAdapterState(taken.state());
      if (!slot.retiring() && !slot.spare) {
        states.keep(slot.index, taken.state());
      }
    } else if (event instanceof WorkerActor.StartFailed failed && slot.adapterState() != null) {
      // A state that did not come back up is not offered again: the slot's next worker starts without it.
      context.getLog().warn("pool '{}': worker {} was given the state of its slot's last worker and failed to start;"
          + " its next worker starts without that state ({} bytes): {}", settings.name(), slot.workerId(),
          slot.adapterState().length, failed.error().getMessage());
      slot.dropAdapterState();
      states.keep(slot.index, null);
    }
    return reactAndCheck(slot, event, react);
  }

  private Behavior<Command> reactAndCheck(Slot slot, WorkerActor.Event event,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    Behavior<Command> next = slot.retiring() ? onRetiringEvent(slot, event) : react.apply(slot, event);
    checkResized();
    return next;
  }

  /** A permit the lane lent went unused after it was revoked: to the phase, the worker is free, as after a call. */
  private Behavior<Command> onPermitUnused(PoolActor.PermitUnused msg,
      BiFunction<Slot, WorkerActor.Event, Behavior<Command>> react) {
    Slot slot = slots.current(msg.workerId());
    if (slot == null) {
      return Behaviors.same();
    }
    slot.callEnded();
    return reactAndCheck(slot, new WorkerActor.Idle(msg.workerId(), false), react);
  }

  /** A retired slot's worker: once it has finished its calls it is stopped; nothing replaces it. */
  private Behavior<Command> onRetiringEvent(Slot slot, WorkerActor.Event event) {
    if (event instanceof WorkerActor.Idle && slot.draining() && slot.inFlight() == 0) {
      slotWorkers.stop(slot);
      slot.stop();
    }
    return Behaviors.same();
  }

  /**
   * Resizes the serving slots to {@code msg.workers()}: new slots start their workers ({@code spawning}: the pool has
   * begun starting them; before, they start with the others), surplus ones retire.
   */
  Behavior<Command> onResize(PoolActor.Resize msg, boolean spawning) {
    dispatch.reclaimAll(); // the slots to retire are chosen by their calls in flight: lent room is not one
    int from = slots.serving();
    int to = msg.workers();
    link.resized(to);
    dispatch.resized(to);
    if (to != from) {
      context.getLog().info("pool '{}': resizing from {} to {} workers", settings.name(), from, to);
    }
    for (int i = from; i < to; i++) {
      Slot slot = slots.add();
      if (spawning) {
        slotWorkers.spawn(slot);
      }
    }
    if (to < from) {
      slots.toRetire(from - to).forEach(this::retire);
    }
    resizeWaiters.add(msg.promise());
    checkResized();
    return Behaviors.same();
  }

  /** A shrink's slot: no more calls or sessions, and its worker stops once its calls are done (or now if idle). */
  private void retire(Slot slot) {
    slotWorkers.cancelRespawn(slot);
    List<Job> waiting = dispatch.retire(slot);
    slot.retire();
    states.keep(slot.index, null); // its state goes with it
    switch (slot.state()) {
      case VACANT, BACKOFF, PARKED -> slots.remove(slot);
      case READY -> {
        if (slot.inFlight() > 0) {
          slot.drain();
        } else {
          slotWorkers.stop(slot);
          slot.stop();
        }
      }
      case DRAINING -> {
        if (slot.inFlight() == 0) {
          slotWorkers.stop(slot);
          slot.stop();
        }
      }
      case STOPPING -> { }
      default -> { // starting, failed to start, or stopped from outside: stopped now, or once its actor is known
        if (slot.worker() != null) {
          slotWorkers.stop(slot);
        }
        slot.stop();
      }
    }
    waiting.forEach(this::submit);
  }

  /** Completes the resize waiters once no slot is retiring and every serving slot's worker is ready. */
  void checkResized() {
    if (!resizeWaiters.isEmpty() && slots.resized()) {
      int ready = slots.servingReady();
      resizeWaiters.forEach(p -> p.complete(ready));
      resizeWaiters.clear();
    }
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
    if (slot != null && slot.retiring()) {
      slots.remove(slot);
      checkResized();
    } else if (slot != null) {
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
    // Adopted workers no slot took (the pool failed or stopped first): their shims end their trees.
    slotWorkers.abandonAdopted();
    link.takeAdopted().forEach(Adoption::abandon);
    PoolUnavailableException gone = new PoolUnavailableException("pool '" + settings.name()
        + "': its coordinator stopped before the call reached a worker", null);
    dispatch.closeAll(gone, slots);
    readyWaiters.forEach(p -> p.completeExceptionally(gone));
    resizeWaiters.forEach(p -> p.completeExceptionally(gone));
    stopWaiters.forEach(p -> p.complete(null));
    return Behaviors.same();
  }
}
