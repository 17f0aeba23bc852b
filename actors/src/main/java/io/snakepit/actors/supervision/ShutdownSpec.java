package io.snakepit.actors.supervision;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How a supervisor stops a child (OTP's {@code shutdown} key of a child spec), given the child's optional stop message
 * ({@link ChildSpec#withStopMessage}):
 *
 * <ul>
 *   <li>{@link #BRUTAL_KILL}: {@code context.stop(child)} at once; the stop message is not sent.
 *   <li>{@link #timeout(Duration)}: the stop message is sent, and if the child has not terminated when the timeout
 *       expires, {@code context.stop(child)}. Without a stop message, {@code context.stop(child)} at once.
 *   <li>{@link #INFINITY}: the stop message is sent and the supervisor waits for the child's termination for as long as
 *       it takes. Without a stop message, {@code context.stop(child)} at once.
 * </ul>
 *
 * <p>In every case the supervisor waits for the child's {@code Terminated} before it goes on. {@code context.stop} is
 * Akka's brutal kill: the child stops after the message it is processing, without seeing any further message; it
 * cannot interrupt an actor that never returns from a message.
 */
public final class ShutdownSpec {

  /** Stop the child at once. */
  public static final ShutdownSpec BRUTAL_KILL = new ShutdownSpec(null, false);

  /** Ask the child to stop and wait for it without limit; the default for supervisor children. */
  public static final ShutdownSpec INFINITY = new ShutdownSpec(null, true);

  private final Duration timeout;
  private final boolean infinity;

  private ShutdownSpec(Duration timeout, boolean infinity) {
    this.timeout = timeout;
    this.infinity = infinity;
  }

  /** Ask the child to stop, and stop it at once if it has not terminated after {@code timeout}. */
  public static ShutdownSpec timeout(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("a shutdown timeout must be positive, got " + timeout
          + "; use ShutdownSpec.BRUTAL_KILL to stop a child at once");
    }
    return new ShutdownSpec(timeout, false);
  }

  /** Whether the child is stopped at once, without its stop message. */
  public boolean isBrutalKill() {
    return timeout == null && !infinity;
  }

  /** Whether the supervisor waits without limit. */
  public boolean isInfinity() {
    return infinity;
  }

  /** The time the child gets to stop after its stop message, if this spec is a timeout. */
  public Optional<Duration> timeout() {
    return Optional.ofNullable(timeout);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ShutdownSpec that && Objects.equals(timeout, that.timeout) && infinity == that.infinity;
  }

  @Override
  public int hashCode() {
    return Objects.hash(timeout, infinity);
  }

  @Override
  public String toString() {
    return infinity ? "infinity" : timeout == null ? "brutal_kill" : "timeout " + timeout.toMillis() + " ms";
  }
}
