package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.CircuitOpenException;
import io.snakepit.JournalUnavailableException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.QueueTimeoutException;
import io.snakepit.SessionBusyException;
import io.snakepit.SnakepitException;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

  private record WorkerStartReply(String workerId, Supervisor.Reply reply, Throwable error) implements Command {}

  private record WorkersGone(ActorRef<Supervisor.Command> workers) implements Command {}

  private record FromWorker(WorkerActor.Event event) implements Command {}

  private record WorkerGone(String workerId) implements Command {}

  private record Respawn(int slot) implements Command {}

  private enum SweepQueue implements Command { INSTANCE }

  private enum SweepSessions implements Command { INSTANCE }

  /** A session's worker slot, and when the session was last used (System.nanoTime). */
  private static final class Binding {
    final Slot slot;
    long lastUsed;

    Binding(Slot slot, long lastUsed) {
      this.slot = slot;
      this.lastUsed = lastUsed;
    }
  }

  private record Retry(Job job) implements Command {}

  private enum Circuit { CLOSED, OPEN, HALF_OPEN }

  private enum Phase { WAITING, STARTING, RUNNING, FAILED, STOPPING }

  /** One place in the pool, filled by successive workers (generations). */
  private static final class Slot {
    final int index;
    /** A warm spare's place: its worker takes no calls until it takes a serving slot's place. */
    final boolean spare;
    int generation;
    String workerId;
    ActorRef<WorkerActor.Command> worker;
    boolean ready;
    boolean alive;
    boolean draining;
    int inFlight;
    int startFailures;
    boolean stopRequested;
    boolean awaitingSupervisor;
    /** Its worker was stopped from outside (the worker supervisor shutting down): no replacement until it is back. */
    boolean parked;
    final ArrayDeque<Long> crashes = new ArrayDeque<>();
    /** Calls of strict-queue sessions bound to this slot, waiting for its worker. */
    final ArrayDeque<Job> pending = new ArrayDeque<>();

    Slot(int index, boolean spare) {
      this.index = index;
      this.spare = spare;
    }
  }

  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final PoolSettings settings;
  private final PoolRuntime runtime;
  private final ActorRef<WorkerActor.Event> events;
  private final List<Slot> slots = new ArrayList<>();
  private final Map<String, Slot> byWorker = new HashMap<>();
  private final Map<String, ActorRef<WorkerActor.Command>> workers = new HashMap<>();
  /** Ready slots with room for another call, longest waiting first. */
  private final ArrayDeque<Slot> idle = new ArrayDeque<>();
  private final ArrayDeque<Job> queue = new ArrayDeque<>();
  private final Map<String, Binding> sessions = new HashMap<>();
  private final List<CompletableFuture<Void>> readyWaiters = new ArrayList<>();
  private final List<CompletableFuture<Void>> stopWaiters = new ArrayList<>();

  private Phase phase = Phase.WAITING;
  private ActorRef<Supervisor.Command> workersSupervisor;
  private boolean begun;
  private Circuit circuit = Circuit.CLOSED;
  private int failuresInARow;
  private long circuitOpenedAt;
  private Job probe;
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
    this.events = context.messageAdapter(WorkerActor.Event.class, FromWorker::new);
    link.coordinatorUp(context.getSelf());
    context.pipeToSelf(link.settlement(), (done, error) -> error == null ? Begin.INSTANCE
        : new Abort(new SnakepitException("settling what an earlier JVM left failed, so no worker was started: "
            + error.getMessage(), error)));
    for (int i = 0; i < settings.workers() + settings.spares(); i++) {
      slots.add(new Slot(i, i >= settings.workers()));
    }
    long sweep = Math.max(100, Math.min(10_000, settings.sessionTtl().toMillis() / 4));
    timers.startTimerWithFixedDelay(SweepSessions.INSTANCE, Duration.ofMillis(sweep));
    if (!settings.queueTimeout().isZero()) {
      timers.startTimerWithFixedDelay(SweepQueue.INSTANCE,
          Duration.ofMillis(Math.max(10, Math.min(100, settings.queueTimeout().toMillis() / 4))));
    }
  }

  private Behavior<Command> onBegin() {
    begun = true;
    return maybeStart();
  }

  private Behavior<Command> onWorkersUp(WorkersUp msg) {
    workersSupervisor = msg.workers();
    context.watchWith(msg.workers(), new WorkersGone(msg.workers()));
    for (Slot slot : slots) {
      if (slot.awaitingSupervisor || (slot.parked && !slot.alive && phase == Phase.RUNNING)) {
        slot.awaitingSupervisor = false;
        spawn(slot);
      }
    }
    return maybeStart();
  }

  private Behavior<Command> onWorkersGone(WorkersGone msg) {
    if (msg.workers().equals(workersSupervisor)) {
      workersSupervisor = null; // its restart announces the next one; spawns wait for it
    }
    return this;
  }

  private Behavior<Command> onWorkerStartReply(WorkerStartReply msg) {
    Slot slot = byWorker.get(msg.workerId());
    if (slot == null || !msg.workerId().equals(slot.workerId)) {
      return this;
    }
    if (msg.reply() instanceof Supervisor.Started started) {
      @SuppressWarnings("unchecked")
      ActorRef<WorkerActor.Command> ref = (ActorRef<WorkerActor.Command>) started.child();
      attach(slot, ref);
    } else {
      String why = msg.error() != null ? msg.error().getMessage() : String.valueOf(msg.reply());
      onStartFailed(slot, new WorkerActor.StartFailed(slot.workerId, new io.snakepit.WorkerStartException(
          "the pool's worker supervisor did not start worker " + slot.workerId + ": " + why, List.of())));
    }
    return this;
  }

  /** The worker's actor is known: watch it, and pass on a stop asked for before it was. */
  private void attach(Slot slot, ActorRef<WorkerActor.Command> ref) {
    if (slot.worker == null) {
      slot.worker = ref;
      workers.put(slot.workerId, ref);
      context.watchWith(ref, new WorkerGone(slot.workerId));
      if (slot.stopRequested) {
        ref.tell(WorkerActor.Stop.INSTANCE);
      }
    }
  }

  private Behavior<Command> maybeStart() {
    if (phase == Phase.WAITING && begun && workersSupervisor != null) {
      phase = Phase.STARTING;
      context.getLog().info("pool '{}' starting {} workers and {} spares of {}", settings.name(), settings.workers(),
          settings.spares(), settings.worker().adapter());
      slots.forEach(this::spawn);
    }
    return this;
  }

  private Behavior<Command> onAbort(Abort msg) {
    if (phase == Phase.WAITING) {
      fail(msg.error());
    }
    return maybeFinishStop();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Begin.INSTANCE, this::onBegin)
        .onMessage(WorkersUp.class, this::onWorkersUp)
        .onMessage(WorkersGone.class, this::onWorkersGone)
        .onMessage(WorkerStartReply.class, this::onWorkerStartReply)
        .onMessageEquals(Stop.INSTANCE, () -> onShutdown(new Shutdown(new CompletableFuture<>())))
        .onSignal(PostStop.class, signal -> onPostStop())
        .onMessage(Abort.class, this::onAbort)
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(FromWorker.class, this::onWorkerEvent)
        .onMessage(WorkerGone.class, this::onWorkerGone)
        .onMessage(Respawn.class, this::onRespawn)
        .onMessageEquals(SweepQueue.INSTANCE, this::onSweepQueue)
        .onMessageEquals(SweepSessions.INSTANCE, this::onSweepSessions)
        .onMessage(Retry.class, msg -> onSubmit(new Submit(msg.job())))
        .onMessage(AwaitReady.class, this::onAwaitReady)
        .onMessage(Shutdown.class, this::onShutdown)
        .build();
  }

  private void spawn(Slot slot) {
    slot.generation++;
    slot.workerId = shortName(settings.name()) + "-" + slot.index + "-" + slot.generation;
    slot.ready = false;
    slot.alive = true;
    slot.draining = false;
    slot.inFlight = 0;
    slot.worker = null;
    slot.stopRequested = false;
    slot.parked = false;
    byWorker.put(slot.workerId, slot);
    if (workersSupervisor == null) {
      slot.awaitingSupervisor = true; // the worker supervisor is restarting; it announces itself
      return;
    }
    Launch launch = new Launch(runtime.shim(), runtime.workerPackage(),
        runtime.runDir().resolve(slot.workerId + ".sock"), runtime.instance(), slot.workerId, nonce(),
        settings.worker(), withPool(runtime.journal().markers()));
    String workerId = slot.workerId;
    context.ask(Supervisor.Reply.class, workersSupervisor, Duration.ofSeconds(30),
        replyTo -> new Supervisor.StartFromTemplate(new WorkerStart(launch, events), replyTo),
        (reply, error) -> new WorkerStartReply(workerId, reply, error));
  }

  /** The journal's markers, and the pool's name for the worker's own messages (SNAKEPIT_POOL). */
  private Map<String, String> withPool(Map<String, String> markers) {
    Map<String, String> all = new HashMap<>(markers);
    all.put("SNAKEPIT_POOL", settings.name());
    return all;
  }

  private static String nonce() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return java.util.HexFormat.of().formatHex(b);
  }

  private static String shortName(String pool) {
    String safe = pool.replaceAll("[^A-Za-z0-9_.-]", "_");
    return safe.length() > 24 ? safe.substring(0, 24) : safe;
  }

  private Behavior<Command> onSubmit(Submit msg) {
    Job job = msg.job();
    if (phase == Phase.FAILED) {
      job.fail(new PoolUnavailableException("pool '" + settings.name() + "' failed to start: "
          + failure.getMessage(), failure));
    } else if (phase == Phase.STOPPING) {
      job.fail(new PoolUnavailableException("pool '" + settings.name() + "' is stopping", null));
    } else if (noServingWorker() && runtime.journal().unavailable().isPresent()) {
      // No live worker, and none can be started: say why rather than queue the call or blame the workers.
      job.fail(new JournalUnavailableException("pool '" + settings.name() + "' has no live worker: "
          + runtime.journal().unavailable().get()));
    } else if (circuit == Circuit.OPEN && !resetElapsed()) {
      job.fail(new CircuitOpenException("pool '" + settings.name() + "': circuit open after " + failuresInARow
          + " failures in a row (workers lost without a call, failed starts, transport errors or deadlines); the next"
          + " call in " + (settings.breakerReset().toMillis() - (System.nanoTime() - circuitOpenedAt) / 1_000_000)
          + " ms goes through as a probe. See the workers' log for the cause"));
    } else if (job.options().session() != null && sessions.containsKey(job.options().session())) {
      routeToSession(job);
    } else if (circuit != Circuit.CLOSED && probe != null) {
      // Half-open with the probe under way: wait for its outcome (it closes the circuit or fails these calls).
      enqueue(job);
    } else if (circuit == Circuit.OPEN) {
      circuit = Circuit.HALF_OPEN;
      probe = job;
      context.getLog().info("pool '{}': circuit half-open, sending a probe call", settings.name());
      dispatchOrEnqueue(job);
    } else {
      dispatchOrEnqueue(job);
    }
    return this;
  }

  /** A call of a bound session: to its worker if it has room, else as the session's affinity says. */
  private void routeToSession(Job job) {
    Binding binding = sessions.get(job.options().session());
    binding.lastUsed = System.nanoTime();
    Slot slot = binding.slot;
    boolean free = slot.ready && !slot.draining && slot.inFlight < concurrency() && slot.pending.isEmpty()
        && circuit == Circuit.CLOSED;
    if (free) {
      idle.remove(slot);
      dispatch(slot, job);
      if (slot.inFlight < concurrency()) {
        idle.addLast(slot);
      }
      return;
    }
    switch (job.options().affinity()) {
      case HINT -> dispatchOrEnqueue(job);
      case STRICT_QUEUE -> {
        if (queue.size() + slot.pending.size() < settings.queueCapacity()) {
          slot.pending.addLast(job);
        } else {
          enqueue(job); // fails it: saturated
        }
      }
      case STRICT_FAIL_FAST -> job.fail(new SessionBusyException("session '" + job.options().session()
          + "' is bound to worker " + slot.workerId + ", which is " + (slot.ready ? "busy" : "not ready")
          + " (affinity STRICT_FAIL_FAST): retry later, or use STRICT_QUEUE to wait or HINT to take any worker"));
    }
  }

  private Behavior<Command> onSweepSessions() {
    long ttl = settings.sessionTtl().toNanos();
    long now = System.nanoTime();
    sessions.values().removeIf(b -> now - b.lastUsed >= ttl && b.slot.pending.isEmpty());
    return this;
  }

  /** To the idle worker that waited longest, or into the queue. */
  private void dispatchOrEnqueue(Job job) {
    Slot slot = idle.pollFirst();
    if (slot == null) {
      enqueue(job);
      return;
    }
    dispatch(slot, job);
    if (slot.inFlight < concurrency()) {
      idle.addLast(slot); // room for more: behind the others, so calls spread over the workers
    }
  }

  private void enqueue(Job job) {
    if (queue.size() < settings.queueCapacity()) {
      queue.addLast(job);
    } else {
      job.fail(new PoolSaturatedException("pool '" + settings.name() + "' is saturated: all " + settings.workers()
          + " workers are busy and " + queue.size() + " calls are queued (queue-capacity "
          + settings.queueCapacity() + "). Retry later, or raise snakepit.pools." + settings.name()
          + ".workers or .queue-capacity"));
    }
  }

  private boolean resetElapsed() {
    return System.nanoTime() - circuitOpenedAt >= settings.breakerReset().toNanos();
  }

  private void callSucceeded() {
    failuresInARow = 0;
    if (circuit != Circuit.CLOSED) {
      circuit = Circuit.CLOSED;
      probe = null;
      context.getLog().info("pool '{}': circuit closed, the probe call succeeded", settings.name());
      for (Slot slot : List.copyOf(idle)) {
        offer(slot); // the calls that waited for the probe
      }
    }
  }

  private void callFailed() {
    failuresInARow++;
    int max = settings.breakerMaxFailures();
    if (max > 0 && (circuit == Circuit.HALF_OPEN || (circuit == Circuit.CLOSED && failuresInARow >= max))) {
      String why = circuit == Circuit.HALF_OPEN ? "circuit opened again: its probe call failed"
          : "circuit open after " + failuresInARow + " failures in a row";
      circuit = Circuit.OPEN;
      probe = null;
      circuitOpenedAt = System.nanoTime();
      context.getLog().error("pool '{}': circuit open after {} failures in a row; calls fail at once for {} ms",
          settings.name(), failuresInARow, settings.breakerReset().toMillis());
      CircuitOpenException open = new CircuitOpenException("pool '" + settings.name() + "': " + why
          + " (workers lost without a call, failed starts, transport errors or deadlines) before this call reached a"
          + " worker; calls fail at once for " + settings.breakerReset().toMillis()
          + " ms. See the workers' log for the cause");
      queue.forEach(job -> job.fail(open));
      queue.clear();
    }
  }

  private int concurrency() {
    return settings.worker().concurrency();
  }

  private void dispatch(Slot slot, Job job) {
    String session = job.options().session();
    if (session != null && !sessions.containsKey(session)) {
      sessions.put(session, new Binding(slot, System.nanoTime()));
    }
    slot.inFlight++;
    slot.worker.tell(new WorkerActor.Execute(job));
  }

  /** A worker has room: give it the oldest queued calls that are still wanted, then list it as idle if room is left. */
  private void offer(Slot slot) {
    if (circuit != Circuit.CLOSED) {
      // Only the probe may go while the circuit is not closed.
      if (probe != null && slot.inFlight < concurrency() && queue.remove(probe)) {
        dispatch(slot, probe);
      }
    }
    while (circuit == Circuit.CLOSED && !slot.pending.isEmpty() && slot.inFlight < concurrency()) {
      Job job = slot.pending.pollFirst();
      if (!job.isDone()) {
        dispatch(slot, job);
      }
    }
    while (circuit == Circuit.CLOSED && !queue.isEmpty() && slot.inFlight < concurrency()) {
      Job job = queue.pollFirst();
      if (!job.isDone()) {
        dispatch(slot, job);
      }
    }
    if (slot.inFlight < concurrency() && !idle.contains(slot)) {
      idle.addLast(slot);
    }
  }

  private Behavior<Command> onWorkerEvent(FromWorker msg) {
    WorkerActor.Event event = msg.event();
    if (event instanceof WorkerActor.Exited) {
      // Nothing more goes to it from here on (messages to one actor keep their order): it may end.
      ActorRef<WorkerActor.Command> ref = workers.get(event.workerId());
      if (ref != null) {
        ref.tell(WorkerActor.Dispose.INSTANCE);
      }
    } else if (event instanceof WorkerActor.Bounced bounced) {
      return onSubmit(new Submit(bounced.job()));
    }
    Slot slot = byWorker.get(event.workerId());
    if (slot == null || !event.workerId().equals(slot.workerId)) {
      return this;
    }
    if (event instanceof WorkerActor.Ready ready) {
      attach(slot, ready.worker());
      slot.ready = true;
      slot.startFailures = 0;
      if (!slot.spare && (phase == Phase.RUNNING || phase == Phase.STARTING)) {
        offer(slot);
      } else if (slot.spare && phase == Phase.RUNNING) {
        takeOverAStart(slot);
      }
      if (phase == Phase.STARTING && slots.stream().allMatch(s -> s.ready)) {
        phase = Phase.RUNNING;
        context.getLog().info("pool '{}' ready: {} workers, {} spares", settings.name(), settings.workers(),
            settings.spares());
        readyWaiters.forEach(p -> p.complete(null));
        readyWaiters.clear();
      }
    } else if (event instanceof WorkerActor.Idle idleEvent) {
      if (idleEvent.failed()) {
        callFailed();
      } else {
        callSucceeded();
      }
      slot.inFlight = Math.max(0, slot.inFlight - 1);
      if (slot.draining) {
        replaceIfDrained(slot);
      } else if (slot.ready && (phase == Phase.RUNNING || phase == Phase.STARTING)) {
        offer(slot);
      }
    } else if (event instanceof WorkerActor.RecycleDue due) {
      if (phase == Phase.RUNNING && !slot.draining) {
        slot.draining = true;
        idle.remove(slot);
        replaceIfDrained(slot);
      }
    } else if (event instanceof WorkerActor.StartFailed failed) {
      onStartFailed(slot, failed);
    } else if (event instanceof WorkerActor.Exited exited) {
      onExited(slot, exited);
    }
    return this;
  }

  private void onStartFailed(Slot slot, WorkerActor.StartFailed failed) {
    slot.ready = false;
    if (phase == Phase.STARTING) {
      fail(failed.error());
    } else if (phase == Phase.RUNNING) {
      callFailed();
      slot.startFailures++;
      Duration delay = backoff(slot.startFailures);
      context.getLog().warn("pool '{}': replacement worker {} failed to start; retrying in {} ms: {}",
          settings.name(), slot.workerId, delay.toMillis(), failed.error().getMessage());
      timers.startSingleTimer("respawn-" + slot.index, new Respawn(slot.index), delay);
      failQueueIfNoWorkerCanStart();
    }
  }

  private boolean noServingWorker() {
    return slots.stream().noneMatch(s -> s.ready && !s.spare);
  }

  /** Calls queued for a worker that cannot start while the journal fails writes: tell them why now. */
  private void failQueueIfNoWorkerCanStart() {
    java.util.Optional<String> unavailable = runtime.journal().unavailable();
    if (unavailable.isPresent() && noServingWorker()) {
      JournalUnavailableException e = new JournalUnavailableException("pool '" + settings.name()
          + "' has no live worker: " + unavailable.get());
      queue.forEach(job -> job.fail(e));
      queue.clear();
    }
  }

  /** A recycled worker with no call left is stopped; a spare or a fresh one takes its slot. */
  private void replaceIfDrained(Slot slot) {
    if (slot.inFlight == 0 && phase == Phase.RUNNING) {
      context.getLog().info("pool '{}': replacing worker {} (recycled)", settings.name(), slot.workerId);
      slot.worker.tell(WorkerActor.Stop.INSTANCE);
      replace(slot);
    }
  }

  /** A ready spare takes the slot at once (and a new spare starts), else a fresh worker starts in it. */
  private void replace(Slot slot) {
    Slot spare = slot.spare ? null : slots.stream()
        .filter(s -> s.spare && s.ready && s.alive && !s.draining && s.worker != null).findFirst().orElse(null);
    if (spare == null) {
      spawn(slot);
      return;
    }
    context.getLog().info("pool '{}': spare worker {} takes slot {}", settings.name(), spare.workerId, slot.index);
    slot.workerId = spare.workerId;
    slot.worker = spare.worker;
    slot.ready = true;
    slot.alive = true;
    slot.draining = false;
    slot.inFlight = 0;
    slot.startFailures = 0;
    slot.stopRequested = false;
    slot.parked = false;
    byWorker.put(slot.workerId, slot);
    spawn(spare);
    offer(slot);
  }

  /**
   * A spare that is ready while a serving slot still waits for its own replacement to start swaps with it: the slot
   * serves now, and the worker still starting becomes the spare. A slot that waits out a backoff is left to it.
   */
  private void takeOverAStart(Slot spare) {
    Slot waiting = slots.stream().filter(s -> !s.spare && s.alive && !s.ready && !s.draining && !s.stopRequested
        && !s.awaitingSupervisor && !timers.isTimerActive("respawn-" + s.index)).findFirst().orElse(null);
    if (waiting == null) {
      return;
    }
    context.getLog().info("pool '{}': spare worker {} takes slot {}; its starting worker {} becomes a spare",
        settings.name(), spare.workerId, waiting.index, waiting.workerId);
    String startingId = waiting.workerId;
    ActorRef<WorkerActor.Command> starting = waiting.worker;
    waiting.workerId = spare.workerId;
    waiting.worker = spare.worker;
    waiting.ready = true;
    waiting.startFailures = 0;
    spare.workerId = startingId;
    spare.worker = starting;
    spare.ready = false;
    byWorker.put(waiting.workerId, waiting);
    byWorker.put(spare.workerId, spare);
    offer(waiting);
  }

  private void onExited(Slot slot, WorkerActor.Exited exited) {
    slot.ready = false;
    slot.inFlight = 0;
    idle.remove(slot);
    for (Job job : exited.retry()) {
      // Idempotent calls the crash interrupted: again, elsewhere, after a backoff that doubles per attempt.
      Duration delay = settings.retryBackoff().multipliedBy(1L << Math.min(job.attempt() - 1, 10));
      context.getLog().info("pool '{}': retrying idempotent call to '{}' (attempt {}) in {} ms", settings.name(),
          job.request().getTool(), job.attempt() + 1, delay.toMillis());
      timers.startSingleTimer("retry-" + retryKeys++, new Retry(job), delay);
    }
    if (exited.requested() || !(phase == Phase.RUNNING || phase == Phase.STARTING)) {
      // Stopped, but not by this coordinator (it would be STOPPING, or the slot replaced): its supervisor is
      // shutting down or restarting; the slot waits for the next worker supervisor.
      slot.parked = exited.requested() && (phase == Phase.RUNNING || phase == Phase.STARTING);
      return;
    }
    if (exited.duringCall()) {
      // A call crashed it: the tool's failure, like a Python exception, not the slot's. Every such respawn served a
      // call first, so this cannot spin without calls; the breaker and the taint count only deaths without one.
      callSucceeded();
      context.getLog().warn("pool '{}': worker {} {} while serving a call; replacing it", settings.name(),
          exited.workerId(), exited.status());
      replace(slot);
      return;
    }
    callFailed();
    long now = System.nanoTime();
    slot.crashes.addLast(now);
    while (!slot.crashes.isEmpty() && now - slot.crashes.peekFirst() > settings.taintWindow().toNanos()) {
      slot.crashes.pollFirst();
    }
    if (slot.crashes.size() >= settings.taintCrashes()) {
      // Tainted: its workers die by themselves again and again; back off rather than feed it a fresh process at once.
      Duration delay = backoff(slot.crashes.size() - settings.taintCrashes() + 1);
      context.getLog().warn("pool '{}': worker {} {} without a call; slot {} lost {} workers without a call within"
          + " {} s (tainted): replacing it in {} ms", settings.name(), exited.workerId(), exited.status(), slot.index,
          slot.crashes.size(), settings.taintWindow().toSeconds(), delay.toMillis());
      slot.alive = false;
      timers.startSingleTimer("respawn-" + slot.index, new Respawn(slot.index), delay);
      return;
    }
    context.getLog().warn("pool '{}': worker {} {} without a call; replacing it", settings.name(),
        exited.workerId(), exited.status());
    replace(slot);
  }

  private Duration backoff(int failures) {
    long min = settings.restartBackoffMin().toMillis();
    long delay = min << Math.min(failures - 1, 16);
    return Duration.ofMillis(Math.min(delay, settings.restartBackoffMax().toMillis()));
  }

  /** Fails the calls that waited longer than queue-timeout (the queue is in submission order). */
  private Behavior<Command> onSweepQueue() {
    long limit = settings.queueTimeout().toNanos();
    long now = System.nanoTime();
    while (!queue.isEmpty() && (queue.peekFirst().isDone() || now - queue.peekFirst().submitted() >= limit)) {
      Job job = queue.pollFirst();
      job.fail(new QueueTimeoutException("call to '" + job.request().getTool() + "' waited "
          + settings.queueTimeout().toMillis() + " ms in pool '" + settings.name() + "' without a free worker"
          + " (queue-timeout). Raise snakepit.pools." + settings.name() + ".workers or .queue-timeout"));
    }
    return this;
  }

  private Behavior<Command> onRespawn(Respawn msg) {
    Slot slot = slots.get(msg.slot());
    if (phase == Phase.RUNNING && !slot.alive) {
      spawn(slot);
    }
    return this;
  }

  private void fail(SnakepitException error) {
    phase = Phase.FAILED;
    failure = error;
    context.getLog().error("pool '{}' failed to start: {}", settings.name(), error.getMessage());
    readyWaiters.forEach(p -> p.completeExceptionally(error));
    readyWaiters.clear();
    PoolUnavailableException unavailable = new PoolUnavailableException("pool '" + settings.name()
        + "' failed to start: " + error.getMessage(), error);
    queue.forEach(job -> job.fail(unavailable));
    queue.clear();
    slots.forEach(slot -> {
      slot.pending.forEach(job -> job.fail(unavailable));
      slot.pending.clear();
    });
    idle.clear();
    stopWorkers();
  }

  private void stopWorkers() {
    for (Slot slot : slots) {
      if (slot.alive) {
        if (slot.worker != null) {
          slot.worker.tell(WorkerActor.Stop.INSTANCE);
        } else {
          slot.stopRequested = true;
          if (slot.awaitingSupervisor) {
            slot.awaitingSupervisor = false;
            slot.alive = false;
          }
        }
      }
    }
  }

  private Behavior<Command> onWorkerGone(WorkerGone msg) {
    workers.remove(msg.workerId());
    Slot slot = byWorker.remove(msg.workerId());
    if (slot != null && msg.workerId().equals(slot.workerId)) {
      slot.alive = false;
      slot.ready = false;
      idle.remove(slot);
      if (slot.parked) {
        return maybeFinishStop();
      }
      if ((phase == Phase.RUNNING || phase == Phase.STARTING) && !timers.isTimerActive("respawn-" + slot.index)) {
        // The actor ended without reporting an exit (it failed): its process is gone with it; replace it.
        spawn(slot);
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
      PoolUnavailableException stopping = new PoolUnavailableException("pool '" + settings.name()
          + "' stopped before the call reached a worker", null);
      queue.forEach(job -> job.fail(stopping));
      queue.clear();
      slots.forEach(slot -> {
        slot.pending.forEach(job -> job.fail(stopping));
        slot.pending.clear();
      });
      idle.clear();
      timers.cancelAll();
      stopWorkers();
    }
    return maybeFinishStop();
  }

  /** Stopped by its supervisor or failed: whoever still waits here gets a typed error, not silence. */
  private Behavior<Command> onPostStop() {
    PoolUnavailableException gone = new PoolUnavailableException("pool '" + settings.name()
        + "': its coordinator stopped before the call reached a worker", null);
    queue.forEach(job -> job.fail(gone));
    slots.forEach(slot -> slot.pending.forEach(job -> job.fail(gone)));
    readyWaiters.forEach(p -> p.completeExceptionally(gone));
    stopWaiters.forEach(p -> p.complete(null));
    return this;
  }

  private Behavior<Command> maybeFinishStop() {
    if (phase == Phase.STOPPING && slots.stream().noneMatch(s -> s.alive)) {
      context.getLog().info("pool '{}' stopped", settings.name());
      stopWaiters.forEach(p -> p.complete(null));
      return Behaviors.stopped();
    }
    return this;
  }
}
