package io.snakepit.actors.worker;

/**
 * A worker's allowance of output lines for the node's log: a token bucket that refills at {@code rate} lines a
 * second up to {@code burst}, so a short burst (a traceback) comes through whole and a flood is cut to the rate.
 * Times are given by the caller (nanoTime), so it is tested without waiting. Plain state; its owner synchronizes.
 */
final class OutputRate {
  private final double perNano;
  private final double burst;
  private double tokens;
  private long last;

  /** {@code rate} lines per second (0: no limit), {@code burst} at most at once; full at {@code now}. */
  OutputRate(double rate, int burst, long now) {
    this.perNano = rate / 1e9;
    this.burst = rate == 0 ? Double.POSITIVE_INFINITY : burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Whether one more line may go out at {@code now}; takes its token if so. */
  boolean take(long now) {
    if (burst == Double.POSITIVE_INFINITY) {
      return true;
    }
    if (now > last) {
      tokens = Math.min(burst, tokens + (now - last) * perNano);
      last = now;
    }
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }
}
