package io.snakepit;

import io.snakepit.actors.host.HostServer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * One call of a host tool from a Python tool: its arguments, who made it, and the deadline and cancellation of the
 * tool's call it is part of.
 *
 * <p>A host tool that calls a pool passes that call this host call's {@link #options()} (the caller's remaining
 * deadline) and ties the call's stage to it with {@link #nested} (cancelling the host call cancels it), or lets
 * {@link #execute(Pool, String, String)} do both. Then the Python tool's deadline and cancellation reach every call
 * made on its behalf.
 *
 * <p>Thread-safe.
 */
public final class HostCall {
  /** The least timeout a nested call gets, so that a deadline about to pass is not read as "no timeout". */
  private static final Duration LEAST = Duration.ofMillis(1);

  private final HostServer.Request request;

  HostCall(HostServer.Request request) {
    this.request = request;
  }

  /** The host tool's name, as Python called it. */
  public String tool() {
    return request.tool();
  }

  /** The keyword arguments as a JSON object; "" when there were none. */
  public String argsJson() {
    return request.argsJson();
  }

  /** The call id of the Python tool's call that made this host call; "" when it was made outside a call. */
  public String callerCallId() {
    return request.callId();
  }

  /** The worker whose tool made this host call. */
  public String workerId() {
    return request.workerId();
  }

  /** What is left of the caller's deadline (zero once it passed); empty when the caller has none. */
  public Optional<Duration> timeRemaining() {
    if (request.deadline() == null) {
      return Optional.empty();
    }
    long nanos = request.deadline().timeRemaining(TimeUnit.NANOSECONDS);
    return Optional.of(Duration.ofNanos(Math.max(0, nanos)));
  }

  /**
   * Options for a pool call made on this host call's behalf: its timeout is the caller's remaining deadline (at least
   * 1 ms), or the pool's {@code call-timeout} when the caller has none.
   */
  public CallOptions options() {
    return timeRemaining().map(left -> CallOptions.defaults().withTimeout(left.compareTo(LEAST) < 0 ? LEAST : left))
        .orElse(CallOptions.defaults());
  }

  /** Whether the caller cancelled this host call, or its deadline passed. */
  public boolean isCancelled() {
    return request.ended().isCompletedExceptionally();
  }

  /**
   * Ties {@code stage} (a pool call made for this host call) to it: when the host call is cancelled or its deadline
   * passes, {@code stage} is cancelled, and with it the call in its worker. At once if that happened already.
   *
   * @return {@code stage}
   */
  public <S extends CompletionStage<?>> S nested(S stage) {
    Objects.requireNonNull(stage, "stage");
    request.ended().whenComplete((done, error) -> {
      if (error != null) {
        stage.toCompletableFuture().cancel(false);
      }
    });
    return stage;
  }

  /** {@code pool.execute(tool, argsJson, options())}, {@link #nested} in this host call. */
  public CompletionStage<Result> execute(Pool pool, String tool, String argsJson) {
    return nested(pool.execute(tool, argsJson, options()));
  }

  /** {@code pool.execute(tool, args, resultType, options())}, {@link #nested} in this host call. */
  public <T> CompletionStage<T> execute(Pool pool, String tool, Object args, Class<T> resultType) {
    return nested(pool.execute(tool, args, resultType, options()));
  }
}
