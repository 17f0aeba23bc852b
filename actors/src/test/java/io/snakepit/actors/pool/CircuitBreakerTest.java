package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {

  private final AtomicLong now = new AtomicLong(1_000);
  private final CircuitBreaker<String> breaker = new CircuitBreaker<>(3, Duration.ofMillis(500), now::get);

  private void openIt() {
    breaker.failed();
    breaker.failed();
    breaker.failed();
  }

  @Test
  void opensAfterMaxFailuresInARowAndRejectsUntilTheResetTimeout() {
    assertNull(breaker.failed());
    assertNull(breaker.failed());
    assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
    assertEquals("circuit open after 3 failures in a row", breaker.failed());
    assertEquals(CircuitBreaker.State.OPEN, breaker.state());
    assertTrue(breaker.rejects());
    now.addAndGet(Duration.ofMillis(200).toNanos());
    assertEquals(300, breaker.millisToProbe());
    assertTrue(breaker.rejects());
    now.addAndGet(Duration.ofMillis(300).toNanos());
    assertFalse(breaker.rejects());
  }

  @Test
  void aSuccessResetsTheCountOfFailuresInARow() {
    breaker.failed();
    breaker.failed();
    assertFalse(breaker.succeeded(), "closing a closed circuit is no change");
    assertNull(breaker.failed());
    assertNull(breaker.failed());
    assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
  }

  @Test
  void afterTheResetOneCallGoesAsAProbeAndItsSuccessClosesTheCircuit() {
    openIt();
    assertFalse(breaker.tryProbe("early"), "no probe before the reset timeout");
    now.addAndGet(Duration.ofMillis(500).toNanos());
    assertFalse(breaker.awaitsProbe());
    assertTrue(breaker.tryProbe("probe"));
    assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state());
    assertEquals("probe", breaker.probe());
    assertTrue(breaker.awaitsProbe());
    assertFalse(breaker.tryProbe("second"), "one probe at a time");
    assertTrue(breaker.succeeded());
    assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
    assertNull(breaker.probe());
    assertEquals(0, breaker.failuresInARow());
  }

  @Test
  void aFailedProbeOpensTheCircuitAgainForAnotherResetTimeout() {
    openIt();
    now.addAndGet(Duration.ofMillis(600).toNanos());
    breaker.tryProbe("probe");
    assertEquals("circuit opened again: its probe call failed", breaker.failed());
    assertEquals(CircuitBreaker.State.OPEN, breaker.state());
    assertNull(breaker.probe());
    assertTrue(breaker.rejects());
    now.addAndGet(Duration.ofMillis(499).toNanos());
    assertTrue(breaker.rejects());
    now.addAndGet(Duration.ofMillis(1).toNanos());
    assertFalse(breaker.rejects());
  }

  @Test
  void failuresWhileOpenDoNotRestartTheResetTimeout() {
    openIt();
    now.addAndGet(Duration.ofMillis(400).toNanos());
    assertNull(breaker.failed());
    now.addAndGet(Duration.ofMillis(100).toNanos());
    assertFalse(breaker.rejects());
  }

  @Test
  void zeroMaxFailuresNeverOpens() {
    CircuitBreaker<String> none = new CircuitBreaker<>(0, Duration.ofMillis(500), now::get);
    for (int i = 0; i < 100; i++) {
      assertNull(none.failed());
    }
    assertEquals(CircuitBreaker.State.CLOSED, none.state());
    assertFalse(none.rejects());
    assertFalse(none.tryProbe("call"), "a closed circuit sends no probe");
  }
}
