package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RestartsTest {

  private final Restarts restarts = new Restarts(new PoolSettings("p", 1, 0, 10, Duration.ZERO,
      Duration.ofMillis(100), Duration.ofMillis(1000), null, Duration.ofMillis(50), 3, Duration.ofMinutes(1), 0,
      Duration.ofSeconds(1), Duration.ofMinutes(1), 1));

  @Test
  void theRestartBackoffDoublesPerFailureUpToItsMaximum() {
    assertEquals(Duration.ofMillis(100), restarts.backoff(1));
    assertEquals(Duration.ofMillis(200), restarts.backoff(2));
    assertEquals(Duration.ofMillis(800), restarts.backoff(4));
    assertEquals(Duration.ofMillis(1000), restarts.backoff(5));
    assertEquals(Duration.ofMillis(1000), restarts.backoff(1000), "no overflow for long runs of failures");
  }

  @Test
  void aSlotIsTaintedFromTheConfiguredNumberOfCrashesAndBacksOffFromTheMinimum() {
    assertFalse(restarts.tainted(2));
    assertTrue(restarts.tainted(3));
    assertEquals(Duration.ofMillis(100), restarts.taintBackoff(3));
    assertEquals(Duration.ofMillis(200), restarts.taintBackoff(4));
  }

  @Test
  void anIdempotentCallIsRetriedAfterABackoffThatDoublesPerAttempt() {
    assertEquals(Duration.ofMillis(50), restarts.retryDelay(1));
    assertEquals(Duration.ofMillis(100), restarts.retryDelay(2));
    assertEquals(Duration.ofMillis(50L << 10), restarts.retryDelay(40), "the doubling stops at 2^10");
  }
}
