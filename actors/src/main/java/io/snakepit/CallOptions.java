package io.snakepit;

import java.time.Duration;
import java.util.Objects;

/**
 * How one call is made: its deadline, and whether it may be retried on another worker if its worker crashes.
 * Immutable; start from {@link #defaults()}.
 *
 * @param timeout the call's deadline from submission, as a gRPC deadline the Python tool can see
 *     ({@code current_call().time_remaining()}); zero means the pool's {@code call-timeout}
 * @param idempotent whether the call may run again on another worker after its worker crashed
 * @param session the session the call belongs to, or null: calls of one session go to one worker as far as
 *     {@code affinity} asks
 * @param affinity how strictly the session's calls stay on its worker
 */
public record CallOptions(Duration timeout, boolean idempotent, String session, Affinity affinity) {

  public CallOptions {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(affinity, "affinity");
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("a call timeout cannot be negative: " + timeout);
    }
  }

  /** No timeout of its own (the pool's applies), not idempotent. */
  public static CallOptions defaults() {
    return new CallOptions(Duration.ZERO, false, null, Affinity.HINT);
  }

  /** These options with a deadline of {@code timeout} after submission. */
  public CallOptions withTimeout(Duration timeout) {
    return new CallOptions(timeout, idempotent, session, affinity);
  }

  /** These options, in session {@code id} with the given affinity. */
  public CallOptions withSession(String id, Affinity affinity) {
    return new CallOptions(timeout, idempotent, Objects.requireNonNull(id, "session"), affinity);
  }

  /** These options, marked as safe to run again on another worker after a crash. */
  public CallOptions withIdempotent(boolean idempotent) {
    return new CallOptions(timeout, idempotent, session, affinity);
  }
}
