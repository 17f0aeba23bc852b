package io.snakepit.actors.supervision;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.function.LongSupplier;

/**
 * OTP's restart intensity: at most {@code maxRestarts} restarts within any {@code period} (a sliding window). A
 * supervisor that needs more gives up. A one_for_all restart counts once.
 */
final class RestartIntensity {

  private final int maxRestarts;
  private final Duration period;
  private final LongSupplier nanoClock;
  /** When the restarts within the window happened, oldest first, by {@code nanoClock}. */
  private final ArrayDeque<Long> restarts = new ArrayDeque<>();

  RestartIntensity(int maxRestarts, Duration period, LongSupplier nanoClock) {
    check(maxRestarts, period);
    this.maxRestarts = maxRestarts;
    this.period = period;
    this.nanoClock = nanoClock;
  }

  /** Fails unless {@code maxRestarts} and {@code period} make a restart intensity. */
  static void check(int maxRestarts, Duration period) {
    if (maxRestarts < 0) {
      throw new IllegalArgumentException("maxRestarts must be 0 or more, got " + maxRestarts);
    }
    if (period.isNegative() || period.isZero()) {
      throw new IllegalArgumentException("the restart intensity period must be positive, got " + period);
    }
  }

  /** Records a restart now and tells whether the restarts within the period are still no more than allowed. */
  boolean allowsRestart() {
    long now = nanoClock.getAsLong();
    restarts.addLast(now);
    while (now - restarts.peekFirst() > period.toNanos()) {
      restarts.pollFirst();
    }
    return restarts.size() <= maxRestarts;
  }

  /** What a supervisor that gives up has reached: "more than 3 restarts within PT1M". */
  String limit() {
    return "more than " + maxRestarts + " restarts within " + period;
  }
}
