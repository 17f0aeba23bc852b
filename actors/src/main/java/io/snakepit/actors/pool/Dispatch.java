package io.snakepit.actors.pool;

import io.snakepit.CircuitOpenException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.QueueTimeoutException;
import io.snakepit.SessionBusyException;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import io.snakepit.actors.worker.Job;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * Which worker gets the next call: the idle worker that has waited longest, else the queue (up to its bound), with
 * sessions bound to their worker and the circuit breaker in front. It holds no actor: {@code send} hands a call to a
 * slot's worker, and the clock is a parameter, so it runs in plain unit tests.
 */
final class Dispatch {

  private final PoolSettings settings;
  private final int concurrency;
  private final Logger log;
  private final LongSupplier nanoClock;
  private final BiConsumer<Slot, Job> send;
  private final Events events;
  /** Where idle workers' room is lent, so that callers reach them without a message ({@link Lane}). */
  private final Lane lane;
  /** The slots whose room is lent to the lane now. */
  private final List<Slot> lent = new ArrayList<>();
  /** A call was refused as saturated since a call was last queued or sent: the event is published once a burst. */
  private boolean saturated;
  /** Ready slots with room for another call, longest waiting first. */
  private final ArrayDeque<Slot> idle = new ArrayDeque<>();
  private final CallQueue<Job> queue;
  private final CircuitBreaker<Job> breaker;
  private final Sessions<Slot> sessions;
  /** The serving workers it has, for errors; a resize changes it. */
  private int workers;

  /** {@code concurrency}: calls one worker runs at once. {@code send}: give the call to the slot's worker. */
  Dispatch(PoolSettings settings, int concurrency, LongSupplier nanoClock, Logger log, Events events, Lane lane,
      BiConsumer<Slot, Job> send) {
    this.settings = settings;
    this.lane = lane;
    this.events = events;
    this.concurrency = concurrency;
    this.log = log;
    this.nanoClock = nanoClock;
    this.send = send;
    this.queue = new CallQueue<>(settings.queueCapacity(), Job::submitted, Job::isDone);
    this.breaker = new CircuitBreaker<>(settings.breakerMaxFailures(), settings.breakerReset(), nanoClock);
    this.sessions = new Sessions<>(settings.sessionTtl(), nanoClock);
    this.workers = settings.workers();
  }

  /** The pool now keeps {@code workers} serving workers. */
  void resized(int workers) {
    this.workers = workers;
  }

  /**
   * A resize retires {@code slot}: it takes no more calls and its sessions are forgotten (their next call binds
   * anew); returns the calls that waited for it, to be submitted again.
   */
  List<Job> retire(Slot slot) {
    reclaim(slot);
    idle.remove(slot);
    sessions.unbind(slot);
    List<Job> waiting = List.copyOf(slot.pending);
    slot.pending.clear();
    return waiting;
  }

  CircuitBreaker<Job> breaker() {
    return breaker;
  }

  int queued() {
    return queue.size();
  }

  /** The queue's length, readable from any thread. */
  IntSupplier queueDepth() {
    return queue::depth;
  }

  int sessions() {
    return sessions.size();
  }

  /** How long ago session {@code session} was last used here, in milliseconds, or -1 if no worker holds it. */
  long sessionIdleMillis(String session) {
    return sessions.idleMillis(session);
  }

  /** The slots listed as idle, longest waiting first. */
  List<Slot> idle() {
    return List.copyOf(idle);
  }

  /** A call for a running pool: refused by an open circuit, to its session's worker, to an idle worker, or queued. */
  void submit(Job job) {
    reclaimAll(); // what reaches the actor sees every worker's true room
    route(job);
    lendIdle();
  }

  private void route(Job job) {
    String session = job.options().session();
    if (breaker.rejects()) {
      job.fail(new CircuitOpenException("pool '" + settings.name() + "': circuit open after "
          + breaker.failuresInARow() + " failures in a row (workers lost without a call, failed starts, transport"
          + " errors or deadlines); the next call in " + breaker.millisToProbe() + " ms goes through as a probe."
          + " See the workers' log for the cause"));
    } else if (sessions.isBound(session)) {
      routeToSession(job);
    } else if (breaker.awaitsProbe()) {
      // Half-open with the probe under way: wait for its outcome (it closes the circuit or fails these calls).
      enqueue(job);
    } else if (breaker.tryProbe(job)) {
      log.info("pool '{}': circuit half-open, sending a probe call", settings.name());
      dispatchOrEnqueue(job);
    } else {
      dispatchOrEnqueue(job);
    }
  }

  /** A call of a bound session: to its worker if it has room, else as the session's affinity says. */
  private void routeToSession(Job job) {
    Slot slot = sessions.use(job.options().session());
    if (slot.hasRoom(concurrency) && slot.pending.isEmpty() && breaker.closed()) {
      idle.remove(slot);
      dispatch(slot, job);
      if (slot.inFlight() < concurrency) {
        idle.addLast(slot);
      }
      return;
    }
    switch (job.options().affinity()) {
      case HINT -> dispatchOrEnqueue(job);
      case STRICT_QUEUE -> {
        if (queue.hasRoom(slot.pending.size())) {
          slot.pending.addLast(job);
        } else {
          enqueue(job); // its share of the bound is used up: the common queue, or refused as saturated
        }
      }
      case STRICT_FAIL_FAST -> job.fail(new SessionBusyException("session '" + job.options().session()
          + "' is bound to worker " + slot.workerId() + ", which is " + (slot.ready() ? "busy" : "not ready")
          + " (affinity STRICT_FAIL_FAST): retry later, or use STRICT_QUEUE to wait or HINT to take any worker"));
    }
  }

  /** To the idle worker that waited longest, or into the queue. */
  private void dispatchOrEnqueue(Job job) {
    Slot slot = idle.pollFirst();
    if (slot == null) {
      enqueue(job);
      return;
    }
    dispatch(slot, job);
    if (slot.inFlight() < concurrency) {
      idle.addLast(slot); // room for more: behind the others, so calls spread over the workers
    }
  }

  private void enqueue(Job job) {
    if (queue.add(job)) {
      saturated = false;
    } else {
      if (!saturated) {
        saturated = true;
        events.publish(new SnakepitEvent.PoolSaturated(Instant.now(), events.instance(), settings.name(),
            queue.size()));
      }
      job.fail(new PoolSaturatedException("pool '" + settings.name() + "' is saturated: all " + workers
          + " workers are busy and " + queue.size() + " calls are queued (queue-capacity " + queue.capacity()
          + "). Retry later, or raise snakepit.pools." + settings.name() + ".workers or .queue-capacity"));
    }
  }

  private void dispatch(Slot slot, Job job) {
    saturated = false;
    sessions.bindIfNew(job.options().session(), slot);
    slot.callStarted();
    send.accept(slot, job);
  }

  /** A worker has room: give it the oldest calls that are still wanted, then list it as idle if room is left. */
  void offer(Slot slot) {
    Job probe = breaker.probe();
    if (breaker.awaitsProbe() && slot.inFlight() < concurrency && queue.remove(probe)) {
      dispatch(slot, probe); // only the probe may go while the circuit is not closed
    }
    while (breaker.closed() && !slot.pending.isEmpty() && slot.inFlight() < concurrency) {
      Job job = slot.pending.pollFirst();
      if (!job.isDone()) {
        dispatch(slot, job);
      }
    }
    while (breaker.closed() && slot.inFlight() < concurrency) {
      Job job = queue.next();
      if (job == null) {
        break;
      }
      dispatch(slot, job);
    }
    if (slot.inFlight() < concurrency && !idle.contains(slot)) {
      idle.addLast(slot);
    }
    lendIdle();
  }

  /** The slot takes no calls from here on (its worker is draining, gone or stopping). */
  void withdraw(Slot slot) {
    reclaim(slot);
    idle.remove(slot);
  }

  /**
   * Lends the room of the idle workers to the lane, while the circuit is closed and no call waits: callers then
   * start calls on them without a message to the actor. Only workers with a port (the calls socket's short way).
   */
  private void lendIdle() {
    if (!breaker.closed() || queue.size() > 0) {
      return;
    }
    for (Iterator<Slot> it = idle.iterator(); it.hasNext(); ) {
      Slot slot = it.next();
      int room = concurrency - slot.inFlight();
      if (slot.port() == null || slot.spare || slot.state() != Slot.State.READY || !slot.pending.isEmpty()
          || room <= 0) {
        continue;
      }
      it.remove();
      if (slot.lease() == null) {
        lent.add(slot);
      }
      slot.lent(lane.lend(slot, room), room);
    }
  }

  /** Takes back all the room lent to the lane: what was free is idle again, what is in use comes back as Idle. */
  void reclaimAll() {
    if (lent.isEmpty()) {
      return;
    }
    lane.clear();
    for (Slot slot : lent) {
      unlend(slot);
    }
    lent.clear();
  }

  /** Takes back the room lent of {@code slot}'s worker, if any. */
  private void reclaim(Slot slot) {
    Lane.Lease lease = slot.lease();
    if (lease != null) {
      lane.forget(lease);
      unlend(slot);
      lent.remove(slot);
    }
  }

  private void unlend(Slot slot) {
    slot.reclaimed(slot.lease().revoke());
    if (slot.state() == Slot.State.READY && slot.inFlight() < concurrency && !idle.contains(slot)) {
      idle.addLast(slot);
    }
  }

  /**
   * A call went well (or its worker died while serving it: the tool's fault, not the slot's): the circuit closes,
   * and calls that waited for it go.
   */
  void succeeded() {
    if (breaker.succeeded()) {
      log.info("pool '{}': circuit closed, the probe call succeeded", settings.name());
      events.publish(new SnakepitEvent.CircuitClosed(Instant.now(), events.instance(), settings.name()));
      for (Slot slot : List.copyOf(idle)) {
        offer(slot); // the calls that waited for the probe
      }
    }
  }

  /** A failure the breaker counts; if it opens the circuit, the queued calls fail at once. */
  void failed() {
    if (lane.takeSucceeded()) {
      breaker.succeeded(); // calls through the lane ended well since: this failure is not one "in a row"
    }
    String why = breaker.failed();
    if (why != null) {
      reclaimAll(); // every call goes through the actor, which fails them while the circuit is open
      log.error("pool '{}': circuit open after {} failures in a row; calls fail at once for {} ms", settings.name(),
          breaker.failuresInARow(), settings.breakerReset().toMillis());
      events.publish(new SnakepitEvent.CircuitOpened(Instant.now(), events.instance(), settings.name(),
          breaker.failuresInARow(), settings.breakerReset(), why));
      failQueued(new CircuitOpenException("pool '" + settings.name() + "': " + why
          + " (workers lost without a call, failed starts, transport errors or deadlines) before this call reached a"
          + " worker; calls fail at once for " + settings.breakerReset().toMillis()
          + " ms. See the workers' log for the cause"));
    }
  }

  /** Fails the calls that waited longer than queue-timeout. */
  void expireQueued() {
    for (Job job : queue.expire(nanoClock.getAsLong(), settings.queueTimeout().toNanos())) {
      job.fail(new QueueTimeoutException("call to '" + job.request().getTool() + "' waited "
          + settings.queueTimeout().toMillis() + " ms in pool '" + settings.name() + "' without a free worker"
          + " (queue-timeout). Raise snakepit.pools." + settings.name() + ".workers or .queue-timeout"));
    }
  }

  /** Forgets the sessions unused for their TTL, unless calls wait for their worker. */
  void expireSessions() {
    sessions.expire(slot -> !slot.pending.isEmpty());
  }

  /** Fails every queued call with {@code error}, and empties the queue. */
  void failQueued(Throwable error) {
    queue.clear().forEach(job -> job.fail(error));
  }

  /** No worker takes calls any more: the pool failed or stops. */
  void closeAll(Throwable error, Slots slots) {
    reclaimAll();
    failQueued(error);
    slots.drainPending(job -> job.fail(error));
    idle.clear();
  }
}
