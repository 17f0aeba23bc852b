package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.WorkerActor;
import io.snakepit.actors.worker.WorkerPort;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.EnumSet;
import java.util.Set;

/**
 * One place in a pool, filled by successive workers (generations). Its {@link State} says what its current worker
 * is doing; each move between states is a method that refuses the moves the pool never makes.
 */
final class Slot {

  /** What the slot's current worker is doing. */
  enum State {
    /** No worker, and none due: before the pool starts, or after its worker ended. */
    VACANT(false, false),
    /** A worker is due, but the pool's worker supervisor is down: it starts when the supervisor is back. */
    AWAITING_SUPERVISOR(true, false),
    /** A worker is due and waits its turn: the pool's start-concurrency workers are starting already. */
    QUEUED(true, false),
    /** Its worker is starting. */
    STARTING(true, false),
    /** Its worker takes calls (a spare's worker waits to take a serving slot's place). */
    READY(true, true),
    /** Its worker is due for recycling: it finishes its calls and takes no new ones. */
    DRAINING(true, true),
    /** Its worker failed to start; a fresh one starts after a backoff, once this one has ended. */
    START_FAILED(true, false),
    /** No worker while a restart backoff runs (after a failed start, or tainted: it lost workers without calls). */
    BACKOFF(false, false),
    /** Its worker was stopped from outside (the worker supervisor shutting down) and has not ended yet. */
    LEAVING(true, false),
    /** Its worker was stopped from outside and ended: no replacement until the worker supervisor is back. */
    PARKED(false, false),
    /** Its worker was told to stop by the pool (or will be, once its actor is known). */
    STOPPING(true, false);

    private final boolean alive;
    private final boolean ready;

    State(boolean alive, boolean ready) {
      this.alive = alive;
      this.ready = ready;
    }
  }

  private static final Set<State> WITH_WORKER = EnumSet.of(State.STARTING, State.READY, State.DRAINING,
      State.START_FAILED);

  final int index;
  /** A warm spare's place: its worker takes no calls until it takes a serving slot's place. */
  final boolean spare;
  /** Calls of strict-queue sessions bound to this slot, waiting for its worker. */
  final ArrayDeque<Job> pending = new ArrayDeque<>();
  private final ArrayDeque<Long> crashes = new ArrayDeque<>();
  private State state = State.VACANT;
  private int generation;
  /** A state its worker failed to restore was just dropped. */
  private boolean stateDropped;
  private String workerId;
  private ActorRef<WorkerActor.Command> worker;
  /** Where its ready worker takes one-result calls without a message to its actor; null: none (or not ready). */
  private WorkerPort port;
  /** Calls started, plus the room lent to the pool's lane (each permit counts as a call until it comes back). */
  private int inFlight;
  /** Its worker's room lent to the pool's lane, or null. */
  private Lane.Lease lease;
  private int startFailures;
  private boolean retiring;
  /** The last state its workers' adapter gave (snapshot()), for the slot's next worker; null for none. */
  private byte[] adapterState;
  /** Its drained worker was asked for a snapshot before it is replaced. */
  private boolean snapshotAsked;

  Slot(int index, boolean spare) {
    this.index = index;
    this.spare = spare;
  }

  State state() {
    return state;
  }

  /** Whether it has a worker, or one due (the pool stops only once no slot is alive). */
  boolean alive() {
    return state.alive;
  }

  /** Whether its worker is ready (serving or draining). */
  boolean ready() {
    return state.ready;
  }

  String workerId() {
    return workerId;
  }

  ActorRef<WorkerActor.Command> worker() {
    return worker;
  }

  WorkerPort port() {
    return port;
  }

  int inFlight() {
    return inFlight;
  }

  int startFailures() {
    return startFailures;
  }

  /** The adapter's state the slot's next worker restores; null for none. */
  byte[] adapterState() {
    return adapterState;
  }

  /** Keeps {@code state} (UTF-8 JSON) for the slot's next worker; null forgets it. */
  void keepAdapterState(byte[] state) {
    this.adapterState = state;
  }

  /** Forgets the state its worker failed to restore: the next worker starts without it (see takeStateDropped). */
  void dropAdapterState() {
    this.adapterState = null;
    this.stateDropped = true;
  }

  /** Whether a state was dropped since the last ask: the failed start was the state's, not the slot's. */
  boolean takeStateDropped() {
    boolean dropped = stateDropped;
    stateDropped = false;
    return dropped;
  }

  /** Whether its drained worker was asked for a snapshot, which its replacement waits for. */
  boolean snapshotAsked() {
    return snapshotAsked;
  }

  void askedForSnapshot() {
    snapshotAsked = true;
  }

  /** Whether its worker is ready, not draining, and has room for one more of {@code concurrency} calls. */
  boolean hasRoom(int concurrency) {
    return state == State.READY && inFlight < concurrency;
  }

  /** A fresh worker (the next generation) for this slot: starting, or waiting for the worker supervisor. */
  String spawn(String poolShortName, boolean supervisorUp) {
    require(state != State.STOPPING && !retiring, "start a worker");
    begin(poolShortName + "-" + index + "-" + (generation + 1), generation + 1,
        supervisorUp ? State.STARTING : State.AWAITING_SUPERVISOR);
    return workerId;
  }

  /**
   * An earlier JVM's worker, adopted after a planned restart, as this slot's worker: {@code workerId} names this slot
   * and its generation, which the slot's next workers count on from.
   */
  void adopt(String workerId, int generation) {
    require(state != State.STOPPING && !retiring, "adopt a worker");
    begin(workerId, generation, State.STARTING);
  }

  /** The slot's worker is now {@code workerId}, of {@code generation}, with nothing of its predecessor's kept. */
  private void begin(String workerId, int generation, State state) {
    this.generation = generation;
    this.workerId = workerId;
    worker = null;
    port = null;
    snapshotAsked = false;
    inFlight = 0;
    this.state = state;
  }

  /**
   * Whether a resize retired it: its worker finishes its calls and is stopped, nothing replaces it, and the slot is
   * removed once its worker ended.
   */
  boolean retiring() {
    return retiring;
  }

  /** A resize retires it (see {@link #retiring()}); a worker not yet asked for is never started. */
  void retire() {
    retiring = true;
    if (state == State.QUEUED || state == State.AWAITING_SUPERVISOR) {
      state = State.VACANT;
    }
  }

  /** Its fresh worker waits its turn to start. */
  void queue() {
    require(state == State.STARTING && worker == null, "wait its turn to start");
    state = State.QUEUED;
  }

  /** Its worker's turn to start has come. */
  void admit() {
    require(state == State.QUEUED, "start its worker");
    state = State.STARTING;
  }

  /**
   * Records the worker's actor; true the first time only. The caller passes on a stop asked for before if
   * {@link #state()} is {@code STOPPING}.
   */
  boolean attach(ActorRef<WorkerActor.Command> ref) {
    if (worker != null) {
      return false;
    }
    worker = ref;
    return true;
  }

  /** Its worker reported ready, with {@code port} for its calls (null: they go to its actor). */
  void becameReady(WorkerPort port) {
    this.port = port;
    if (state == State.STOPPING) {
      return; // told to stop already: it stays on its way out
    }
    require(state == State.STARTING || state == State.START_FAILED, "become ready");
    state = State.READY;
    startFailures = 0;
  }

  /** Its worker failed to start; returns how many starts in a row have failed. */
  int startFailed() {
    require(WITH_WORKER.contains(state) || state == State.LEAVING, "fail to start");
    if (state != State.LEAVING) {
      state = State.START_FAILED; // one stopped from outside still waits for the worker supervisor
    }
    return ++startFailures;
  }

  /** Its worker is due for recycling: no new calls. */
  void drain() {
    require(state == State.READY, "drain");
    state = State.DRAINING;
  }

  boolean draining() {
    return state == State.DRAINING;
  }

  void callStarted() {
    inFlight++;
  }

  void callEnded() {
    inFlight = Math.max(0, inFlight - 1);
  }

  Lane.Lease lease() {
    return lease;
  }

  /** {@code room} more of its worker's room is lent through {@code lease}: it counts as busy. */
  void lent(Lane.Lease lease, int room) {
    this.lease = lease;
    inFlight += room;
  }

  /** Its lease was revoked with {@code free} permits unused: those are room again; the rest end as calls. */
  void reclaimed(int free) {
    lease = null;
    inFlight = Math.max(0, inFlight - free);
  }

  /** Its worker's process ended: no calls in flight any more. */
  void exited() {
    inFlight = 0;
  }

  /** Its worker was stopped from outside: it waits for the next worker supervisor. */
  void leave() {
    require(WITH_WORKER.contains(state), "be stopped from outside");
    state = State.LEAVING;
  }

  /**
   * Records a death without a call at {@code now} (nanoseconds) and forgets those older than {@code window}; returns
   * how many remain: that many within the window taint the slot.
   */
  int crashed(long now, Duration window) {
    crashes.addLast(now);
    while (!crashes.isEmpty() && now - crashes.peekFirst() > window.toNanos()) {
      crashes.pollFirst();
    }
    return crashes.size();
  }

  /** No worker while a restart backoff runs (tainted). */
  void backOff() {
    require(WITH_WORKER.contains(state), "back off");
    state = State.BACKOFF;
  }

  /**
   * The pool stops its worker (now, or once its actor is known); a worker not yet asked for (waiting for the
   * supervisor or its turn) is not started.
   */
  void stop() {
    require(state.alive, "stop");
    state = state == State.AWAITING_SUPERVISOR || state == State.QUEUED ? State.VACANT : State.STOPPING;
  }

  /** Its worker's actor ended; {@code backoffRunning}: a restart backoff for the slot is still running. */
  void ended(boolean backoffRunning) {
    if (state == State.LEAVING || state == State.PARKED) {
      state = State.PARKED;
    } else {
      state = backoffRunning ? State.BACKOFF : State.VACANT;
    }
  }

  /** This (serving) slot takes the ready worker of {@code spare}, which is left to start a fresh one. */
  void takeWorkerOf(Slot spare) {
    require(spare.state == State.READY, "give its worker away");
    workerId = spare.workerId;
    worker = spare.worker;
    port = spare.port;
    inFlight = 0;
    startFailures = 0;
    state = State.READY;
  }

  /** This (serving, starting) slot and the ready {@code spare} swap workers: the slot serves, the spare starts. */
  void swapWorkersWith(Slot spare) {
    require(state == State.STARTING && spare.state == State.READY, "swap workers");
    String startingId = workerId;
    ActorRef<WorkerActor.Command> starting = worker;
    WorkerPort startingPort = port;
    workerId = spare.workerId;
    worker = spare.worker;
    port = spare.port;
    state = State.READY;
    startFailures = 0;
    spare.workerId = startingId;
    spare.worker = starting;
    spare.port = startingPort;
    spare.state = State.STARTING;
  }

  private void require(boolean legal, String what) {
    if (!legal) {
      throw new IllegalStateException("slot " + index + " (worker " + workerId + ") cannot " + what + " while "
          + state + ": the pool's bookkeeping is out of step with its workers; report this as a bug");
    }
  }
}
