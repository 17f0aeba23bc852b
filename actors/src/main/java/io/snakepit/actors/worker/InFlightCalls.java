package io.snakepit.actors.worker;

import io.grpc.Status;
import io.snakepit.CallTimeoutException;
import io.snakepit.WorkerCallException;
import io.snakepit.proto.ExecuteResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * The calls a worker is running, by call id, and the transport failures held until the process's exit status is
 * known (see {@link StopTimeline#TRANSPORT_GRACE}). Used on the worker actor's thread and, for the short way's calls,
 * by its {@link WorkerPort} from the pool's actor and the calls socket's thread: each method is atomic.
 */
final class InFlightCalls {
  private final String workerId;
  private final Duration callTimeout;
  private final Map<Long, Job> jobs = new LinkedHashMap<>();
  private final Map<Long, Throwable> heldFailures = new HashMap<>();
  private long nextId;

  /**
   * @param workerId the worker, for error messages
   * @param callTimeout the pool's deadline for calls that set none; zero for none
   */
  InFlightCalls(String workerId, Duration callTimeout) {
    this.workerId = workerId;
    this.callTimeout = callTimeout;
  }

  /**
   * How a call ended: {@code failed} says whether for the worker's fault (transport, deadline), which the circuit
   * breaker counts; {@code settle} then completes the caller's stage (after the pool heard the worker is free).
   */
  record Ended(long callId, Job job, boolean failed, Runnable settle) {}

  /** The call's deadline: its own, else the pool's; zero for none. */
  Duration timeoutOf(Job job) {
    return job.options().timeout().isZero() ? callTimeout : job.options().timeout();
  }

  /** What is left of the call's deadline at {@code now} (System.nanoTime); {@code Long.MAX_VALUE} for none. */
  long remainingNanos(Job job, long now) {
    Duration timeout = timeoutOf(job);
    return timeout.isZero() ? Long.MAX_VALUE : timeout.toNanos() - (now - job.submitted());
  }

  /** The error of a call past its deadline. */
  CallTimeoutException timedOut(Job job) {
    return new CallTimeoutException("call to '" + job.request().getTool() + "' did not finish within "
        + timeoutOf(job).toMillis() + " ms (" + (job.options().timeout().isZero() ? "the pool's call-timeout"
            : "CallOptions.timeout") + "); it was cancelled in worker " + workerId);
  }

  /**
   * Call {@code id} ended with the worker's {@code last} response or {@code error}. Returns how, or null when there
   * is nothing to do now: the call is unknown (it already ended), or its transport failure is now held
   * ({@link #isHeld}) until the exit status arrives.
   */
  synchronized Ended finish(long id, ExecuteResponse last, Throwable error) {
    Job job = jobs.get(id);
    if (job == null) {
      return null;
    }
    Status.Code code = error == null ? Status.Code.OK : Status.fromThrowable(error).getCode();
    if (job.isDone() || code == Status.Code.DEADLINE_EXCEEDED) {
      // Cancelled by its caller, or past its deadline: the worker is fine and free for the next call.
      jobs.remove(id);
      boolean timedOut = !job.isDone();
      return new Ended(id, job, timedOut, () -> {
        if (timedOut) {
          job.fail(timedOut(job));
        }
      });
    }
    if (error != null && isTransportFailure(error)) {
      // The process is probably dying: hold the call until its exit status arrives, so the caller learns why.
      heldFailures.put(id, error);
      return null;
    }
    jobs.remove(id);
    if (error != null) {
      return new Ended(id, job, true, () -> job.fail(new WorkerCallException("call to worker " + workerId + " failed: "
          + Status.fromThrowable(error), error)));
    }
    return new Ended(id, job, false, () -> Outcomes.complete(job, last));
  }

  /** Whether call {@code id}'s transport failure is held. */
  synchronized boolean isHeld(long id) {
    return heldFailures.containsKey(id);
  }

  /** Call {@code id}'s grace is over and its process stayed up: how it ended, or null if it ended meanwhile. */
  synchronized Ended graceOver(long id) {
    Throwable failure = heldFailures.remove(id);
    Job job = jobs.remove(id);
    if (failure == null || job == null) {
      return null;
    }
    return new Ended(id, job, true, () -> job.fail(new WorkerCallException("call to worker " + workerId + " failed while its"
        + " process stayed up: " + Status.fromThrowable(failure), failure)));
  }

  /** Adds a call; returns its id. */
  synchronized long add(Job job) {
    long id = nextId++;
    jobs.put(id, job);
    return id;
  }

  /** Each call still running, by id (before a crash or a stop ends them all). */
  synchronized void forEach(BiConsumer<Long, Job> action) {
    jobs.forEach(action);
  }

  synchronized boolean isEmpty() {
    return jobs.isEmpty();
  }

  /**
   * The worker crashed: fails every call with {@code crashed}, except idempotent ones with attempts left (of
   * {@code maxAttempts} in all) whose caller still waits: those are returned, counted one attempt more, to run again.
   */
  synchronized List<Job> crash(int maxAttempts, Supplier<? extends Throwable> crashed) {
    List<Job> retry = new ArrayList<>();
    for (Job job : jobs.values()) {
      if (job.options().idempotent() && job.attempt() + 1 < maxAttempts && !job.isDone()) {
        retry.add(job.nextAttempt());
      } else {
        job.fail(crashed.get());
      }
    }
    clear();
    return retry;
  }

  /** Fails every call with {@code error} (the worker stopped). */
  synchronized void failAll(Supplier<? extends Throwable> error) {
    jobs.values().forEach(job -> job.fail(error.get()));
    clear();
  }

  private synchronized void clear() {
    jobs.clear();
    heldFailures.clear();
  }

  /** Whether a call's error means the channel or the process broke, rather than the call itself. */
  static boolean isTransportFailure(Throwable t) {
    Status.Code code = Status.fromThrowable(t).getCode();
    return code == Status.Code.UNAVAILABLE || code == Status.Code.INTERNAL || code == Status.Code.UNKNOWN
        || code == Status.Code.CANCELLED;
  }
}
