package io.snakepit.actors.pool;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A pool's circuit breaker: after {@code maxFailures} failures in a row it opens and calls fail at once; once
 * {@code reset} has passed, one call goes through as a probe (half-open), and its outcome closes the circuit or opens it
 * again. Generic over the call type {@code J}, so it needs neither workers nor actors.
 */
final class CircuitBreaker<J> {

  /** Where the circuit is. */
  enum State { CLOSED, OPEN, HALF_OPEN }

  private final int maxFailures;
  private final Duration reset;
  private final LongSupplier nanoClock;
  private State state = State.CLOSED;
  private int failuresInARow;
  private long openedAt;
  private J probe;

  /** {@code maxFailures} 0: never opens. {@code nanoClock}: System::nanoTime, or a test's clock. */
  CircuitBreaker(int maxFailures, Duration reset, LongSupplier nanoClock) {
    this.maxFailures = maxFailures;
    this.reset = reset;
    this.nanoClock = nanoClock;
  }

  State state() {
    return state;
  }

  boolean closed() {
    return state == State.CLOSED;
  }

  int failuresInARow() {
    return failuresInARow;
  }

  /** The probe call under way while half-open, or null. */
  J probe() {
    return probe;
  }

  /** Whether calls fail at once: open, and the reset timeout has not passed yet. */
  boolean rejects() {
    return state == State.OPEN && nanoClock.getAsLong() - openedAt < reset.toNanos();
  }

  /** How long until the next call goes through as a probe. */
  long millisToProbe() {
    return reset.toMillis() - (nanoClock.getAsLong() - openedAt) / 1_000_000;
  }

  /** Whether calls wait for a probe's outcome: not closed, and a probe is under way. */
  boolean awaitsProbe() {
    return state != State.CLOSED && probe != null;
  }

  /** Open with its reset timeout passed: {@code call} goes through as the probe, and the circuit is half-open. */
  boolean tryProbe(J call) {
    if (state != State.OPEN || rejects()) {
      return false;
    }
    state = State.HALF_OPEN;
    probe = call;
    return true;
  }

  /** A call succeeded; returns true when that closed the circuit (the probe succeeded). */
  boolean succeeded() {
    failuresInARow = 0;
    if (state == State.CLOSED) {
      return false;
    }
    state = State.CLOSED;
    probe = null;
    return true;
  }

  /** A call failed; returns why the circuit opened now, or null when it did not. */
  String failed() {
    failuresInARow++;
    if (maxFailures <= 0 || !(state == State.HALF_OPEN || (state == State.CLOSED && failuresInARow >= maxFailures))) {
      return null;
    }
    String why = state == State.HALF_OPEN ? "circuit opened again: its probe call failed"
        : "circuit open after " + failuresInARow + " failures in a row";
    state = State.OPEN;
    probe = null;
    openedAt = nanoClock.getAsLong();
    return why;
  }
}
