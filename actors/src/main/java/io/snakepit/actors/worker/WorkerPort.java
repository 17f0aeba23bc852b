package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import io.snakepit.actors.worker.WorkerActor.CallFinished;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.proto.ExecuteResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The short way for a ready worker's one-result calls: the pool's actor starts the call on the worker's calls socket
 * itself, and the call's end tells the pool and completes the caller's stage from the thread the result arrived on.
 * Two actor messages a call (the caller's to the pool, the worker's "idle" to it) instead of four: on two cores each
 * message is a dispatcher thread's wake-up taken from the Python workers (docs/PERFORMANCE.md, Dispatch).
 *
 * <p>The pool actor still alone decides which slot takes a call; what is shared is the worker's record of its calls
 * ({@link InFlightCalls} and {@link Upkeep}, both safe across threads), under this port's lock. The worker actor
 * closes the port before it stops or handles its process's end. From then on, and for every case that is not a
 * worker's answer to a running call (a streaming call, a call past its deadline before it started, a deadline, a
 * cancel, a transport failure held until the exit status, a worker whose upkeep reads /proc after each call), the long
 * way is taken: an {@code Execute} to the actor, or the call's end as a {@code CallFinished} to it. A call is ended
 * once either way: by whoever takes it out of the record.
 *
 * <p>So the caller's stage completes on the workers' I/O thread that read the answer: continuations attached without
 * an executor run there (docs/EMBEDDING.md).
 */
public final class WorkerPort {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerPort.class);
  private final String workerId;
  private final String pool;
  private final InFlightCalls calls;
  private final WorkerChannel channel;
  private final Upkeep upkeep;
  private final Events events;
  private final ActorRef<Command> worker;
  private final ActorRef<WorkerActor.Event> poolRef;
  /** Whether calls may start and end here: until the worker actor stops serving. */
  private boolean open = true;

  WorkerPort(Worker w) {
    this.workerId = w.id;
    this.pool = w.launch.pool();
    this.calls = w.calls;
    this.channel = w.channel;
    this.upkeep = w.upkeep;
    this.events = w.events;
    this.worker = w.context.getSelf();
    this.poolRef = w.pool;
  }

  /**
   * Starts {@code job} on the worker's calls socket, on the caller's thread (the pool's actor); false when it must
   * take the long way, an {@code Execute} to the worker's actor.
   */
  public boolean tryExecute(Job job) {
    return tryExecute(job, null);
  }

  /**
   * As {@link #tryExecute(Job)}, from any thread; {@code giveBack} (null for none) is asked, once the call has ended
   * well and no recycle is due, to hand the worker's room back to the pool's lane without telling the pool's actor;
   * when it says no (the lane's lease was revoked) or the call failed, the pool hears {@code Idle} as ever.
   */
  public boolean tryExecute(Job job, BooleanSupplier giveBack) {
    if (job instanceof Job.Stream || job.isDone()) {
      return false;
    }
    long remaining = calls.remainingNanos(job, System.nanoTime());
    if (remaining <= 0) {
      return false; // the actor fails it as timed out and tells the pool the worker is free
    }
    long callId;
    synchronized (this) {
      if (!open || !channel.multiplexing() || (giveBack != null && upkeep.recycleDue())) {
        return false; // a lane's call does not start on a worker due for replacement: the pool's actor places it
      }
      callId = calls.add(job);
      job.trace().worker(workerId);
      // Before the frame goes: its end, published by whoever ends it, takes this lock first and so comes after.
      events.publish(new SnakepitEvent.CallStarted(Instant.now(), events.instance(), pool, workerId, callId,
          job.request().getTool(), Duration.ofNanos(System.nanoTime() - job.submitted())));
      channel.executeMultiplexed(job, callId, remaining, (last, error) -> finished(callId, last, error, giveBack));
    }
    job.promise().whenComplete((value, error) -> {
      if (job.promise().isCancelled()) {
        channel.cancelMultiplexed(callId); // the multiplexed call ends as cancelled, and its end comes back through finished
      }
    });
    return true;
  }

  /** A short-way call ended, on the thread its result, deadline or cancel came from. */
  private void finished(long callId, ExecuteResponse last, Throwable error, BooleanSupplier giveBack) {
    InFlightCalls.Ended ended;
    Optional<String> due;
    synchronized (this) {
      if (!open || error != null) {
        // Stopping, or not the worker's answer (a transport failure the actor holds until the exit status says why,
        // a deadline or a cancel, which come on the single timer thread or the caller's): the actor ends it.
        worker.tell(new CallFinished(callId, last, error));
        return;
      }
      ended = calls.finish(callId, last, error);
      if (ended == null) {
        return;
      }
      due = upkeep.callDone(!ended.failed());
    }
    // As the actor does: the pool hears of a recycle, then that the worker is free, and only then the caller.
    due.ifPresent(reason -> {
      LOG.info("worker {} is due for replacement: {}", workerId, reason);
      poolRef.tell(new WorkerActor.RecycleDue(workerId, reason));
      events.publish(new SnakepitEvent.WorkerRecycled(Instant.now(), events.instance(), pool, workerId, reason));
    });
    if (giveBack == null || ended.failed() || due.isPresent() || !giveBack.getAsBoolean()) {
      poolRef.tell(new WorkerActor.Idle(workerId, ended.failed()));
    }
    ended.settle().run();
    events.publish(new SnakepitEvent.CallEnded(Instant.now(), events.instance(), pool, workerId, callId,
        ended.job().request().getTool(), ServingPhase.outcome(ended.job()),
        Duration.ofNanos(System.nanoTime() - ended.job().submitted())));
  }

  /** The worker actor stops serving: every call still running ends through it from here on. */
  synchronized void close() {
    open = false;
  }
}
