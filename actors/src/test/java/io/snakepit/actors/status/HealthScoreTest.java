package io.snakepit.actors.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Each factor of the health score moves it the documented way, within 0 to 1, and the explanation names it. */
class HealthScoreTest {
  private static final long MIB = 1 << 20;
  private static final Duration WINDOW = Duration.ofMinutes(10);
  private static final Duration GROWN = Duration.ofMinutes(5);

  /** A worker with nothing wrong: 30 MiB as at its start, 10% CPU, the pool's median latency, no restarts. */
  private static HealthScore.Inputs fine() {
    return new HealthScore.Inputs(30 * MIB, 30 * MIB, 0, "", 0.1, 1.0, 0, WINDOW, GROWN);
  }

  private static HealthScore.Inputs withRss(HealthScore.Inputs in, long rss) {
    return new HealthScore.Inputs(rss, in.baselineBytes(), in.limitBytes(), in.limitName(), in.cpuShare(),
        in.latencyRatio(), in.restarts(), in.restartsWindow(), in.uptime());
  }

  @Test
  void aWorkerWithNothingWrongScoresOneAndNeedsNoExplanation() {
    HealthScore h = HealthScore.of(fine());
    assertEquals(1.0, h.score());
    assertEquals(new HealthScore.Factors(1, 1, 1, 1, 1), h.factors());
    assertEquals("", h.why());
  }

  @Test
  void memoryGrowthAgainstTheBaselineCostsProgressivelyDownToZeroAtFourTimes() {
    double at15 = HealthScore.of(withRss(fine(), 45 * MIB)).score();
    double at2 = HealthScore.of(withRss(fine(), 60 * MIB)).score();
    double at3 = HealthScore.of(withRss(fine(), 90 * MIB)).score();
    HealthScore at4 = HealthScore.of(withRss(fine(), 120 * MIB));
    assertEquals(1.0, at15, "up to 1.5x costs nothing");
    assertEquals(0.8, HealthScore.of(withRss(fine(), 60 * MIB)).factors().memory(), 1e-9);
    assertEquals(0.4, HealthScore.of(withRss(fine(), 90 * MIB)).factors().memory(), 1e-9);
    assertTrue(at2 < at15 && at3 < at2 && at4.score() < at3, at15 + " " + at2 + " " + at3 + " " + at4.score());
    assertEquals(0.0, at4.score(), "4x the baseline: a leak alone brings the score to 0");
    assertEquals(0.0, HealthScore.of(withRss(fine(), 400 * MIB)).score(), "bounded below");
    assertTrue(at4.why().startsWith("memory 4.0x baseline (120 of 30 MiB)"), at4.why());
    // The weight: memory at 0.4 of its factor gives 0.4^0.4.
    assertEquals(Math.pow(0.4, 0.4), at3, 1e-9);
  }

  @Test
  void memoryAgainstALimitCountsFromHalfOfIt() {
    HealthScore.Inputs limited = new HealthScore.Inputs(100 * MIB, 30 * MIB, 200 * MIB, "recycle.max-rss", 0.1, 1.0,
        0, WINDOW, GROWN);
    assertEquals(1.0, HealthScore.of(limited).score(), "half of the limit costs nothing, whatever the baseline");
    HealthScore near = HealthScore.of(withRss(limited, 180 * MIB));
    assertEquals(0.2, near.factors().memory(), 1e-9);
    assertTrue(near.why().contains("90% of recycle.max-rss 200 MiB"), near.why());
    assertEquals(0.0, HealthScore.of(withRss(limited, 250 * MIB)).score());
  }

  @Test
  void cpuNearItsWholeShareCostsSomethingButNeverAllOnItsOwn() {
    assertEquals(1.0, HealthScore.cpu(0.8));
    assertEquals(1.0, HealthScore.cpu(-1), "not measured yet");
    assertTrue(HealthScore.cpu(0.9) < 1 && HealthScore.cpu(0.9) > HealthScore.cpu(1.0));
    assertEquals(0.25, HealthScore.cpu(1.0), 1e-9);
    assertEquals(0.25, HealthScore.cpu(3.0), 1e-9, "floored");
    HealthScore spinning = HealthScore.of(new HealthScore.Inputs(30 * MIB, 30 * MIB, 0, "", 1.0, 1.0, 0, WINDOW,
        GROWN));
    assertTrue(spinning.score() > 0.75 && spinning.score() < 1, "cpu alone: " + spinning.score());
    assertEquals("cpu 100% of its share", spinning.why());
  }

  @Test
  void latencyAgainstThePoolsMedianCountsFromOneAndAHalfTimes() {
    assertEquals(1.0, HealthScore.latency(1.5));
    assertEquals(1.0, HealthScore.latency(Double.NaN), "no median to compare with");
    assertTrue(HealthScore.latency(3) < HealthScore.latency(2));
    assertEquals(0.25, HealthScore.latency(5), 1e-9);
    assertEquals(0.25, HealthScore.latency(50), 1e-9);
    HealthScore slow = HealthScore.of(new HealthScore.Inputs(30 * MIB, 30 * MIB, 0, "", 0.1, 5.0, 0, WINDOW, GROWN));
    assertEquals(Math.pow(0.25, 0.2), slow.score(), 1e-9);
    assertEquals("latency 5.0x the pool's median", slow.why());
  }

  @Test
  void eachRestartOfTheSlotCostsAQuarterOfTheFactorDownToItsFloor() {
    assertEquals(1.0, HealthScore.restarts(0));
    assertEquals(0.75, HealthScore.restarts(1));
    assertEquals(0.5, HealthScore.restarts(2));
    assertEquals(0.25, HealthScore.restarts(3));
    assertEquals(0.25, HealthScore.restarts(30));
    HealthScore h = HealthScore.of(new HealthScore.Inputs(30 * MIB, 30 * MIB, 0, "", 0.1, 1.0, 2, WINDOW, GROWN));
    assertEquals("2 restarts of its slot in 10 min", h.why());
  }

  @Test
  void aYoungWorkerScoresSlightlyLowerButNotLowEnoughToBeRecycled() {
    assertEquals(0.8, HealthScore.uptime(Duration.ZERO), 1e-9);
    assertEquals(0.9, HealthScore.uptime(Duration.ofSeconds(30)), 1e-9);
    assertEquals(1.0, HealthScore.uptime(Duration.ofMinutes(1)));
    HealthScore young = HealthScore.of(new HealthScore.Inputs(30 * MIB, 30 * MIB, 0, "", 0.1, 1.0, 0, WINDOW,
        Duration.ZERO));
    assertTrue(young.score() > 0.97 && young.score() < 1, "just started: " + young.score());
    assertEquals("up 0 s", young.why());
  }

  @Test
  void theExplanationNamesTheCostliestFactorFirst() {
    HealthScore h = HealthScore.of(new HealthScore.Inputs(110 * MIB, 30 * MIB, 0, "", 0.1, 1.0, 1, WINDOW,
        Duration.ofSeconds(10)));
    assertTrue(h.why().startsWith("memory 3.7x baseline"), h.why());
    assertTrue(h.why().contains(", 1 restart of its slot in 10 min") && h.why().endsWith("up 10 s"), h.why());
    assertTrue(h.score() >= 0 && h.score() < 0.5, "score " + h.score());
  }

  @Test
  void withoutAnythingMeasuredTheScoreIsOne() {
    HealthScore h = HealthScore.of(new HealthScore.Inputs(0, 0, 0, "", -1, Double.NaN, 0, WINDOW, GROWN));
    assertEquals(1.0, h.score());
  }
}
