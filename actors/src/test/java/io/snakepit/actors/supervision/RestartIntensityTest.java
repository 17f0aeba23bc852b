package io.snakepit.actors.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RestartIntensityTest {

  private final AtomicLong now = new AtomicLong(1_000);

  @Test
  void allowsMaxRestartsWithinThePeriodAndNotOneMore() {
    RestartIntensity intensity = new RestartIntensity(2, Duration.ofSeconds(10), now::get);
    assertTrue(intensity.allowsRestart());
    assertTrue(intensity.allowsRestart());
    assertFalse(intensity.allowsRestart());
  }

  @Test
  void restartsOlderThanThePeriodNoLongerCount() {
    RestartIntensity intensity = new RestartIntensity(1, Duration.ofSeconds(10), now::get);
    assertTrue(intensity.allowsRestart());
    now.addAndGet(Duration.ofSeconds(10).toNanos() + 1);
    assertTrue(intensity.allowsRestart());
    now.addAndGet(Duration.ofSeconds(5).toNanos());
    assertFalse(intensity.allowsRestart());
  }

  @Test
  void aRestartExactlyOnePeriodAgoStillCounts() {
    RestartIntensity intensity = new RestartIntensity(1, Duration.ofSeconds(10), now::get);
    assertTrue(intensity.allowsRestart());
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    assertFalse(intensity.allowsRestart());
  }

  @Test
  void zeroRestartsAllowsNone() {
    assertFalse(new RestartIntensity(0, Duration.ofMinutes(1), now::get).allowsRestart());
  }

  @Test
  void limitSaysWhatWasReached() {
    assertEquals("more than 3 restarts within PT1M", new RestartIntensity(3, Duration.ofMinutes(1), now::get).limit());
  }

  @Test
  void negativeMaxRestartsOrAnEmptyPeriodIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> RestartIntensity.check(-1, Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class, () -> RestartIntensity.check(1, Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> RestartIntensity.check(1, Duration.ofSeconds(-1)));
  }
}
