package io.snakepit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.snakepit.SnakepitEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The dashboard's charts, kept by the node rather than by the page, so that a page opened now shows the last minutes
 * too: per pool, one sample per interval (calls by outcome, calls per second, latency mean, p50 and p99), the last
 * {@code capacity} of them. Calls are counted as their {@link SnakepitEvent.CallEnded} events are published (on the
 * worker's thread: an array index and three atomic adds); {@link #sample} drains the counts into a sample.
 *
 * <p>The percentiles come from log-spaced buckets, four per doubling from 0.1 ms to past 10 minutes, so a p50 or p99
 * is the upper bound of its bucket: at most about a fifth above the true value, enough for a chart.
 */
final class CallHistory {
  private static final SnakepitEvent.Outcome[] OUTCOMES = SnakepitEvent.Outcome.values();
  private static final long SMALLEST_NANOS = 100_000;
  private static final int BUCKETS_PER_DOUBLING = 4;
  private static final int BUCKETS = 100;

  /** What one pool's calls did in one interval. */
  record Sample(Instant time, double seconds, long[] calls, double meanMs, double p50Ms, double p99Ms) {
    long total() {
      long n = 0;
      for (long c : calls) {
        n += c;
      }
      return n;
    }
  }

  private final int capacity;
  private final Map<String, Pool> pools = new ConcurrentHashMap<>();
  private long lastSample;

  /**
   * @param pools the configured pools: they have samples (of no calls) from the first interval on
   * @param capacity samples kept per pool
   * @param start {@link System#nanoTime()} now, from which the first interval is measured
   */
  CallHistory(List<String> pools, int capacity, long start) {
    if (capacity < 1) {
      throw new IllegalArgumentException("a call history keeps at least one sample, not " + capacity);
    }
    this.capacity = capacity;
    this.lastSample = start;
    pools.forEach(this::pool);
  }

  /** Counts a call's end; never blocks. */
  void record(SnakepitEvent.CallEnded e) {
    Pool p = pool(e.pool());
    p.calls.incrementAndGet(e.outcome().ordinal());
    long nanos = e.took().toNanos();
    p.buckets.incrementAndGet(bucket(nanos));
    p.nanos.addAndGet(nanos);
  }

  /** Ends the interval: each pool's counts since the last sample become its sample at {@code time}. */
  synchronized void sample(Instant time, long nanoTime) {
    double seconds = Math.max(1e-3, (nanoTime - lastSample) / 1e9);
    lastSample = nanoTime;
    for (Pool p : pools.values()) {
      p.sample(time, seconds, capacity);
    }
  }

  /** Every pool's samples, oldest first, as {@code /api/history} serves them (docs/OPERATIONS.md). */
  synchronized ObjectNode json(ObjectMapper mapper) {
    ObjectNode body = mapper.createObjectNode();
    ArrayNode list = body.putArray("pools");
    for (Map.Entry<String, Pool> e : new TreeMap<>(pools).entrySet()) {
      ObjectNode pool = list.addObject().put("name", e.getKey());
      ArrayNode samples = pool.putArray("samples");
      for (Sample s : e.getValue().samples) {
        ObjectNode o = samples.addObject().put("time", s.time().toString());
        ObjectNode calls = o.putObject("calls");
        for (SnakepitEvent.Outcome outcome : OUTCOMES) {
          calls.put(outcome.name().toLowerCase(Locale.ROOT), s.calls()[outcome.ordinal()]);
        }
        o.put("callsPerSecond", round(s.total() / s.seconds()));
        ObjectNode latency = o.putObject("latencyMs");
        if (s.total() == 0) {
          latency.putNull("mean").putNull("p50").putNull("p99");
        } else {
          latency.put("mean", round(s.meanMs())).put("p50", round(s.p50Ms())).put("p99", round(s.p99Ms()));
        }
      }
    }
    return body;
  }

  /** The samples of {@code pool} now, oldest first (empty for a pool never seen). */
  synchronized List<Sample> samples(String pool) {
    Pool p = pools.get(pool);
    return p == null ? List.of() : List.copyOf(p.samples);
  }

  private Pool pool(String name) {
    Pool p = pools.get(name);
    return p != null ? p : pools.computeIfAbsent(name, n -> new Pool());
  }

  /** The bucket of a call that took {@code nanos}: 0 up to 0.1 ms, then four per doubling. */
  static int bucket(long nanos) {
    if (nanos <= SMALLEST_NANOS) {
      return 0;
    }
    double doublings = Math.log((double) nanos / SMALLEST_NANOS) / Math.log(2);
    return (int) Math.min(BUCKETS - 1, Math.ceil(doublings * BUCKETS_PER_DOUBLING));
  }

  /** The largest duration bucket {@code i} holds, in milliseconds. */
  static double upperMs(int i) {
    return SMALLEST_NANOS * Math.pow(2, (double) i / BUCKETS_PER_DOUBLING) / 1e6;
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** One pool's counts of the current interval, and its samples. */
  private static final class Pool {
    final AtomicLongArray calls = new AtomicLongArray(OUTCOMES.length);
    final AtomicLongArray buckets = new AtomicLongArray(BUCKETS);
    final AtomicLong nanos = new AtomicLong();
    final ArrayDeque<Sample> samples = new ArrayDeque<>();

    /** Drains the counts (getAndSet: a call counted meanwhile lands in this sample or the next, never in none). */
    void sample(Instant time, double seconds, int capacity) {
      long[] counts = new long[OUTCOMES.length];
      for (int i = 0; i < counts.length; i++) {
        counts[i] = calls.getAndSet(i, 0);
      }
      long[] histogram = new long[BUCKETS];
      long n = 0;
      for (int i = 0; i < BUCKETS; i++) {
        histogram[i] = buckets.getAndSet(i, 0);
        n += histogram[i];
      }
      long total = nanos.getAndSet(0);
      double mean = n == 0 ? 0 : total / 1e6 / n;
      samples.addLast(new Sample(time, seconds, counts, mean, quantile(histogram, n, 0.50),
          quantile(histogram, n, 0.99)));
      while (samples.size() > capacity) {
        samples.removeFirst();
      }
    }

    private static double quantile(long[] histogram, long n, double q) {
      if (n == 0) {
        return 0;
      }
      long rank = (long) Math.ceil(q * n);
      long seen = 0;
      for (int i = 0; i < histogram.length; i++) {
        seen += histogram[i];
        if (seen >= rank) {
          return upperMs(i);
        }
      }
      return upperMs(histogram.length - 1);
    }
  }

  /** How many samples {@code history} holds at one per {@code interval}. */
  static int capacity(Duration history, Duration interval) {
    return (int) Math.max(1, history.toMillis() / interval.toMillis());
  }
}
