package io.snakepit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * What a {@code snakepit load} run measured.
 *
 * @param tool the tool called
 * @param concurrency the most calls in flight at once
 * @param rate calls per second of an open loop; null for a closed loop
 * @param requests calls made (every one ended, with a value or an error)
 * @param seconds from the first call's start to the last call's end
 * @param ok calls that returned a value
 * @param errors calls that failed, by error type, most frequent first
 * @param latency latency percentiles, in milliseconds
 * @param warmup the warm-up made before the measured calls, excluded from every other field; null if none ran
 * @param sent calls sent, counted apart from their ends: equal to {@code requests} once the run has ended, so a
 *     script (and {@code ClusterLoadIT}) can check that no call went unanswered
 */
record LoadResult(String tool, int concurrency, Double rate, long requests, double seconds, long ok,
    Map<String, Long> errors, Latency latency, Warmup warmup, long sent) {

  /**
   * The warm-up phase: calls made before the measured ones so that the figures do not measure the JIT.
   *
   * @param seconds from its first call's start to its last call's end
   * @param requests calls it made, whatever their outcome
   */
  record Warmup(double seconds, long requests) {}

  /**
   * Latency in milliseconds, recorded in microseconds.
   *
   * @param p50 the median
   * @param p90 the 90th percentile
   * @param p99 the 99th percentile
   * @param p999 the 99.9th percentile
   * @param max the slowest call
   * @param mean the mean
   */
  record Latency(double p50, double p90, double p99, double p999, double max, double mean) {
    static Latency of(Histogram micros) {
      return new Latency(ms(micros.getValueAtPercentile(50)), ms(micros.getValueAtPercentile(90)),
          ms(micros.getValueAtPercentile(99)), ms(micros.getValueAtPercentile(99.9)), ms(micros.getMaxValue()),
          micros.getMean() / 1000.0);
    }

    private static double ms(long micros) {
      return micros / 1000.0;
    }
  }

  static LoadResult of(LoadRun.Plan plan, long elapsedNanos, long ok, Map<String, Long> errors, Histogram micros) {
    long failed = errors.values().stream().mapToLong(Long::longValue).sum();
    return of(plan, elapsedNanos, ok, errors, micros, ok + failed);
  }

  /** As {@link #of(LoadRun.Plan, long, long, Map, Histogram)}, with the calls sent counted by the run. */
  static LoadResult of(LoadRun.Plan plan, long elapsedNanos, long ok, Map<String, Long> errors, Histogram micros,
      long sent) {
    long failed = errors.values().stream().mapToLong(Long::longValue).sum();
    return new LoadResult(plan.request().getTool(), plan.concurrency(), plan.rate(), ok + failed,
        elapsedNanos / 1e9, ok, errors, Latency.of(micros), null, sent);
  }

  /** This result, preceded by {@code warmup}. */
  LoadResult after(Warmup warmup) {
    return new LoadResult(tool, concurrency, rate, requests, seconds, ok, errors, latency, warmup, sent);
  }

  /** Calls that ended per second, failed ones included. */
  double throughput() {
    return seconds > 0 ? requests / seconds : 0;
  }

  /** The result for a person, one fact a line. */
  List<String> lines() {
    List<String> lines = new ArrayList<>();
    String loop = rate == null ? "closed loop" : "open loop at " + number(rate) + " calls/s";
    lines.add(String.format(Locale.ROOT, "%s: %d calls in %.2f s, %s, concurrency %d", tool, requests, seconds,
        loop, concurrency));
    if (warmup != null) {
      lines.add(String.format(Locale.ROOT, "warm-up: %d calls in %.2f s before these, excluded from every figure",
          warmup.requests, warmup.seconds));
    }
    lines.add(String.format(Locale.ROOT, "throughput: %.2f calls/s", throughput()));
    lines.add("ok: " + ok);
    lines.add("errors: " + (requests - ok));
    errors.forEach((type, count) -> lines.add("  " + type + ": " + count));
    lines.add(String.format(Locale.ROOT, "latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms,"
        + " max %.2f ms, mean %.2f ms", latency.p50, latency.p90, latency.p99, latency.p999, latency.max,
        latency.mean));
    return lines;
  }

  /** The result for a script: one object with the fields {@code snakepit load --help} names. */
  ObjectNode json() {
    ObjectNode root = new ObjectMapper().createObjectNode();
    root.put("tool", tool);
    root.put("concurrency", concurrency);
    if (rate == null) {
      root.putNull("rate");
    } else {
      root.put("rate", rate);
    }
    root.put("requests", requests);
    root.put("seconds", decimals(seconds, 3));
    root.put("throughput", decimals(throughput(), 2));
    root.put("ok", ok);
    ObjectNode byType = root.putObject("errors");
    errors.forEach(byType::put);
    ObjectNode ms = root.putObject("latency_ms");
    ms.put("p50", decimals(latency.p50, 2));
    ms.put("p90", decimals(latency.p90, 2));
    ms.put("p99", decimals(latency.p99, 2));
    ms.put("p99.9", decimals(latency.p999, 2));
    ms.put("max", decimals(latency.max, 2));
    ms.put("mean", decimals(latency.mean, 2));
    root.put("sent", sent);
    if (warmup != null) {
      ObjectNode w = root.putObject("warmup");
      w.put("requests", warmup.requests);
      w.put("seconds", decimals(warmup.seconds, 3));
    }
    return root;
  }

  private static BigDecimal decimals(double value, int places) {
    return BigDecimal.valueOf(value).setScale(places, RoundingMode.HALF_UP);
  }

  /** 500.0 as "500", 0.5 as "0.5". */
  private static String number(double value) {
    return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
  }
}
