package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The log's allowance: a burst at once, then the rate; the clock is the test's. */
class OutputRateTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void aBurstGoesThroughThenTheRateHolds() {
    OutputRate rate = new OutputRate(200, 1000, 0);
    int taken = 0;
    for (int i = 0; i < 5000; i++) {
      taken += rate.take(0) ? 1 : 0;
    }
    assertEquals(1000, taken);
    int inASecond = 0;
    for (long t = 1; t <= SECOND; t += SECOND / 10_000) {
      inASecond += rate.take(t) ? 1 : 0;
    }
    assertEquals(200, inASecond, 1);
  }

  @Test
  void aQuietSpellRefillsNoMoreThanTheBurst() {
    OutputRate rate = new OutputRate(200, 10, 0);
    for (int i = 0; i < 10; i++) {
      assertTrue(rate.take(0));
    }
    assertFalse(rate.take(0));
    int taken = 0;
    for (int i = 0; i < 100; i++) {
      taken += rate.take(3600 * SECOND) ? 1 : 0;
    }
    assertEquals(10, taken);
  }

  @Test
  void rateZeroIsNoLimit() {
    OutputRate rate = new OutputRate(0, 1, 0);
    for (int i = 0; i < 100_000; i++) {
      assertTrue(rate.take(0));
    }
  }
}
