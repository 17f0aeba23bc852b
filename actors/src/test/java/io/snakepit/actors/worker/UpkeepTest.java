package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Pings missed and the three recycling conditions, each reported once. */
class UpkeepTest {
  private static final WorkerSettings.Health HEALTH = new WorkerSettings.Health(Duration.ofSeconds(1),
      Duration.ofMillis(100), 3, 10);

  @Test
  void onlyMissesInARowKillAndOnlyOnce() {
    Upkeep u = new Upkeep(HEALTH, new WorkerSettings.Recycle(0, Duration.ZERO, 0), 0, () -> 0);
    assertTrue(u.startPing());
    assertFalse(u.startPing(), "one ping at a time");
    assertFalse(u.pingAnswered(false));
    assertFalse(u.pingAnswered(false));
    assertFalse(u.pingAnswered(true), "an answer resets the count");
    assertEquals(0, u.pingsMissed());
    u.pingAnswered(false);
    u.pingAnswered(false);
    assertTrue(u.pingAnswered(false));
    assertTrue(u.unresponsive());
    assertFalse(u.pingAnswered(false), "killed once");
  }

  @Test
  void aWorkerThatAnsweredACallSinceTheLastTickIsNotPinged() {
    Upkeep u = new Upkeep(HEALTH, new WorkerSettings.Recycle(0, Duration.ZERO, 0), 0, () -> 0);
    assertTrue(u.startPing());
    u.pingAnswered(false);
    u.callDone(true);
    assertEquals(0, u.pingsMissed(), "an answered call shows the worker answers");
    assertFalse(u.startPing(), "answered since the last tick: no ping");
    assertTrue(u.startPing(), "nothing answered since: the next tick pings");
    u.pingAnswered(true);
    u.callDone(false);
    assertTrue(u.startPing(), "a call lost to a deadline or the transport shows nothing");
  }

  @Test
  void maxCallsIsDueOnceAtTheLimit() {
    Upkeep u = new Upkeep(HEALTH, new WorkerSettings.Recycle(2, Duration.ZERO, 0), 0, () -> 0);
    assertEquals(Optional.empty(), u.callDone(true));
    assertEquals(Optional.of("served 2 calls (recycle.max-calls 2)"), u.callDone(true));
    assertEquals(Optional.empty(), u.callDone(true));
  }

  @Test
  void ageAndMemoryAreCheckedByTheTick() {
    long ready = 1_000;
    Upkeep aged = new Upkeep(HEALTH, new WorkerSettings.Recycle(0, Duration.ofSeconds(10), 0), ready, () -> 0);
    assertTrue(aged.ticks());
    assertEquals(Optional.empty(), aged.tick(ready + Duration.ofSeconds(9).toNanos()));
    assertEquals(Optional.of("older than recycle.ttl 10 s"), aged.tick(ready + Duration.ofSeconds(10).toNanos()));
    assertEquals(Optional.empty(), aged.tick(ready + Duration.ofSeconds(20).toNanos()));

    AtomicLong rss = new AtomicLong(10L << 20);
    Upkeep fat = new Upkeep(HEALTH, new WorkerSettings.Recycle(0, Duration.ZERO, 64L << 20), ready, rss::get);
    assertEquals(Optional.empty(), fat.tick(ready));
    rss.set(100L << 20);
    assertEquals(Optional.of("resident memory 100 MiB over recycle.max-rss 64 MiB"), fat.callDone(true));
    assertEquals(Optional.empty(), fat.tick(ready));
    assertFalse(new Upkeep(HEALTH, new WorkerSettings.Recycle(5, Duration.ZERO, 0), 0, () -> 0).ticks());
  }
}
