package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.SnakepitEvent;
import io.snakepit.SnakepitEvent.Outcome;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dashboard's chart history: counts by outcome, rates, percentiles within their bucket, and its bound. */
class CallHistoryTest {
  private static final Instant T0 = Instant.parse("2026-12-03T07:00:00Z");
  private static final long SECOND = 1_000_000_000L;

  private static SnakepitEvent.CallEnded call(String pool, Outcome outcome, Duration took) {
    return new SnakepitEvent.CallEnded(T0, "i", pool, pool + "-0-1", 1, "ping", outcome, took);
  }

  @Test
  void aSampleCountsTheIntervalsCallsByOutcomeAndTheirRate() {
    CallHistory history = new CallHistory(List.of("a", "b"), 10, 0);
    for (int i = 0; i < 8; i++) {
      history.record(call("a", Outcome.OK, Duration.ofMillis(2)));
    }
    history.record(call("a", Outcome.ERROR, Duration.ofMillis(2)));
    history.record(call("a", Outcome.FAILED, Duration.ofMillis(2)));
    history.sample(T0.plusSeconds(5), 5 * SECOND);

    CallHistory.Sample a = history.samples("a").get(0);
    assertEquals(T0.plusSeconds(5), a.time());
    assertEquals(8, a.calls()[Outcome.OK.ordinal()]);
    assertEquals(1, a.calls()[Outcome.ERROR.ordinal()]);
    assertEquals(1, a.calls()[Outcome.FAILED.ordinal()]);
    assertEquals(10, a.total());
    assertEquals(5.0, a.seconds(), 1e-9);
    assertEquals(0, history.samples("b").get(0).total(), "a configured pool without calls has its sample too");

    history.sample(T0.plusSeconds(10), 10 * SECOND);
    assertEquals(0, history.samples("a").get(1).total(), "the counts were drained into the first sample");
  }

  @Test
  void percentilesAreTheUpperBoundOfTheirBucketAndTheMeanIsExact() {
    CallHistory history = new CallHistory(List.of("a"), 10, 0);
    for (int i = 0; i < 98; i++) {
      history.record(call("a", Outcome.OK, Duration.ofMillis(10)));
    }
    history.record(call("a", Outcome.OK, Duration.ofMillis(1000)));
    history.record(call("a", Outcome.OK, Duration.ofMillis(1000)));
    history.sample(T0, SECOND);
    CallHistory.Sample s = history.samples("a").get(0);
    assertEquals((98 * 10 + 2 * 1000) / 100.0, s.meanMs(), 1e-9);
    assertTrue(s.p50Ms() >= 10 && s.p50Ms() < 10 * 1.2, "p50 " + s.p50Ms());
    assertTrue(s.p99Ms() >= 1000 && s.p99Ms() < 1000 * 1.2, "p99 " + s.p99Ms());
  }

  @Test
  void bucketsGrowByAQuarterDoublingAndCoverTheSlowest() {
    assertEquals(0, CallHistory.bucket(50_000));
    assertEquals(0, CallHistory.bucket(100_000));
    for (long nanos : new long[] {150_000, 1_000_000, 7_300_000, 1_000_000_000L, 60_000_000_000L}) {
      int b = CallHistory.bucket(nanos);
      assertTrue(CallHistory.upperMs(b) * 1e6 >= nanos && CallHistory.upperMs(b - 1) * 1e6 < nanos,
          nanos + " ns in bucket " + b);
    }
    assertEquals(99, CallHistory.bucket(Duration.ofHours(10).toNanos()), "past the last bucket: the last one");
  }

  @Test
  void onlyTheLastCapacitySamplesAreKept() {
    CallHistory history = new CallHistory(List.of("a"), 3, 0);
    for (int i = 1; i <= 5; i++) {
      history.record(call("a", Outcome.OK, Duration.ofMillis(1)));
      history.sample(T0.plusSeconds(i), i * SECOND);
    }
    List<CallHistory.Sample> kept = history.samples("a");
    assertEquals(List.of(T0.plusSeconds(3), T0.plusSeconds(4), T0.plusSeconds(5)),
        kept.stream().map(CallHistory.Sample::time).toList());
    assertEquals(180, CallHistory.capacity(Duration.ofMinutes(15), Duration.ofSeconds(5)));
  }

  @Test
  void theJsonHasEveryOutcomeTheRateAndNullLatencyWithoutCalls() throws Exception {
    CallHistory history = new CallHistory(List.of("b", "a"), 10, 0);
    history.record(call("a", Outcome.TIMEOUT, Duration.ofMillis(4)));
    history.record(call("a", Outcome.OK, Duration.ofMillis(4)));
    history.sample(T0, 2 * SECOND);
    JsonNode json = new ObjectMapper().readTree(history.json(new ObjectMapper()).toString());
    assertEquals("a", json.get("pools").get(0).get("name").asText(), "pools by name");
    JsonNode a = json.get("pools").get(0).get("samples").get(0);
    assertEquals(T0.toString(), a.get("time").asText());
    assertEquals(1, a.get("calls").get("ok").asLong());
    assertEquals(1, a.get("calls").get("timeout").asLong());
    assertEquals(0, a.get("calls").get("cancelled").asLong());
    assertEquals(1.0, a.get("callsPerSecond").asDouble(), 1e-9);
    assertEquals(4.0, a.get("latencyMs").get("mean").asDouble(), 1e-9);
    JsonNode b = json.get("pools").get(1).get("samples").get(0);
    assertTrue(b.get("latencyMs").get("p99").isNull(), b.toString());
    assertEquals(0.0, b.get("callsPerSecond").asDouble());
  }
}
