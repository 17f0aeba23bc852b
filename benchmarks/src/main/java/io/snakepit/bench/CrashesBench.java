package io.snakepit.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.snakepit.Pool;
import io.snakepit.SnakepitException;
import io.snakepit.actors.pool.PoolActor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * Crashes: an open loop of calls at a fixed rate on a pool whose tool kills its worker on a share of the calls
 * ({@code maybe_crash}), against the same loop with no crash, and on a pool with warm spares. Calls are sent on
 * schedule whatever the pool does, so a pool that stops serving shows as calls that wait, fail or never end. After the
 * window, every call gets a bounded time to be answered; what is still open then counts as unanswered.
 */
final class CrashesBench implements Bench {
  private static final double RATE = 200;
  private static final double CRASH_SHARE = 0.02;
  private static final int WORKERS = 4;
  /** The warm spares of the third pool. */
  private static final int SPARES = 2;
  /** How long the calls still open at the end of the window may take to be answered. */
  private static final long DRAIN_SECONDS = 30;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    double seconds = c.quick() ? 5 : 60;
    int runs = c.quick() ? 1 : c.runs();
    List<Double> crashing = new ArrayList<>();
    List<Double> spared = new ArrayList<>();
    List<Double> clean = new ArrayList<>();
    List<Double> unanswered = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    List<Double> p99Clean = new ArrayList<>();
    Map<String, Long> outcomes = new TreeMap<>();
    Map<String, Long> sparedOutcomes = new TreeMap<>();
    long sent = 0;
    String loadBefore = loadAverage();
    Logger poolLog = (Logger) org.slf4j.LoggerFactory.getLogger(PoolActor.class);
    Level level = poolLog.getLevel();
    poolLog.setLevel(Level.ERROR); // one warning per crash: hundreds a minute
    String pool = "workers = " + WORKERS + ", circuit-breaker.max-failures = 10";
    try (Node node = Node.start(c, "clean { " + pool + " }, crashing { " + pool + " }, spared { " + pool
        + ", spares = " + SPARES + " }")) {
      node.awaitReady();
      Pool cleanPool = node.snakepit.pool("clean");
      Pool crashingPool = node.snakepit.pool("crashing");
      Pool sparedPool = node.snakepit.pool("spared");
      warmUp(cleanPool);
      warmUp(crashingPool);
      warmUp(sparedPool);
      for (int run = 0; run < runs; run++) {
        // Taking turns, so that drift on the machine hits all alike.
        Run a = load(cleanPool, 0, seconds);
        Run b = load(crashingPool, CRASH_SHARE, seconds);
        Run d = load(sparedPool, CRASH_SHARE, seconds);
        clean.add(a.okPerSecond());
        crashing.add(b.okPerSecond());
        spared.add(d.okPerSecond());
        unanswered.add((double) (a.unanswered() + b.unanswered() + d.unanswered()));
        d.outcomes().forEach((k, v) -> sparedOutcomes.merge(k, v, Long::sum));
        p99Clean.add(a.latencies().getValueAtPercentile(99) / 1e6);
        p99.add(b.latencies().getValueAtPercentile(99) / 1e6);
        b.outcomes().forEach((k, v) -> outcomes.merge(k, v, Long::sum));
        sent += b.sent();
        System.out.println(String.format(Locale.ROOT, "  run %d: crash-free %.1f ok calls/s (%s), crashing %.1f ok"
            + " calls/s (%s), crashing with %d spares %.1f ok calls/s (%s)", run + 1, a.okPerSecond(), a.outcomes(),
            b.okPerSecond(), b.outcomes(), SPARES, d.okPerSecond(), d.outcomes()));
      }
    } finally {
      poolLog.setLevel(level);
    }
    String load = "load average (1, 5, 15 min) before: " + loadBefore + ", after: " + loadAverage();
    String how = String.format(Locale.ROOT, "%d workers, open loop at %.0f calls/s for %.0f s per run, the runs"
        + " taking turns (crash-free, crashing, crashing with %d spares); a call's answer is awaited up to %d s after"
        + " the window; %s", WORKERS, RATE, seconds, SPARES, DRAIN_SECONDS, load);
    String group = "Crashes";
    return List.of(
        new Measurement("crashes.throughput", group, "successful calls/s with " + pct(CRASH_SHARE)
            + " of calls crashing their worker", "calls/s", new Series("maybe_crash(p = " + CRASH_SHARE + ")",
            crashing), new Series("maybe_crash(p = 0), no crash", clean),
            Goal.ratioAtLeast(0.5, ">= 0.5x the crash-free run"), how + ". Successful calls from the first call sent"
            + " to the last answer, per second. Outcomes of the crashing runs, " + sent + " calls sent: " + outcomes
            + " (a WorkerCrashed per crash: those calls are not retried)"),
        new Measurement("crashes.spares", group, "successful calls/s with " + pct(CRASH_SHARE) + " of calls"
            + " crashing their worker, " + SPARES + " warm spares", "calls/s", new Series("maybe_crash(p = "
            + CRASH_SHARE + "), spares = " + SPARES, spared), new Series("maybe_crash(p = 0), no crash", clean),
            Goal.none(), how + ". Outcomes: " + sparedOutcomes),
        new Measurement("crashes.unanswered", group, "calls never answered, all runs", "calls",
            new Series("sent − (ok + errors)", unanswered), null, Goal.atMost(0, "0: every call is answered"),
            how),
        new Measurement("crashes.p99", group, "p99 latency with " + pct(CRASH_SHARE) + " of calls crashing", "ms",
            new Series("maybe_crash(p = " + CRASH_SHARE + ")", p99), new Series("maybe_crash(p = 0), no crash",
            p99Clean), Goal.none(), "From the call's scheduled send to its answer, failed calls included. " + how));
  }

  /** The host's load average, as /proc/loadavg gives it: what else competed for the CPU. */
  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + ", " + f[1] + ", " + f[2];
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  private static String pct(double share) {
    return Math.round(share * 100) + " %";
  }

  /** Not measured: every worker has taken calls, so classes and channels exist before the count. */
  private static void warmUp(Pool pool) throws Exception {
    for (int i = 0; i < 50; i++) {
      pool.execute("maybe_crash", "{\"p\": 0}").toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  /**
   * One window of the open loop.
   *
   * @param sent calls sent
   * @param ok calls that succeeded
   * @param unanswered calls without an answer DRAIN_SECONDS after the window
   * @param seconds from the first call sent to the last answer (or to the end of the drain)
   * @param outcomes answers by kind: ok, or the error's kind
   * @param latencies from each answered call's scheduled send to its answer, in nanoseconds
   */
  private record Run(long sent, long ok, long unanswered, double seconds, Map<String, Long> outcomes,
      Histogram latencies) {

    double okPerSecond() {
      return ok / seconds;
    }
  }

  /** Sends maybe_crash(p) at RATE for seconds, on schedule, then waits (bounded) for the answers. */
  private static Run load(Pool pool, double p, double seconds) throws InterruptedException {
    long total = Math.round(RATE * seconds);
    CountDownLatch answered = new CountDownLatch((int) total);
    AtomicLong lastAnswer = new AtomicLong();
    Map<String, Long> outcomes = new ConcurrentHashMap<>();
    Histogram latencies = new ConcurrentHistogram(3_600_000_000_000L, 3);
    String args = "{\"p\": " + p + "}";
    long start = System.nanoTime();
    for (long i = 0; i < total; i++) {
      long due = start + Math.round(i * 1e9 / RATE);
      for (long now = System.nanoTime(); now < due; now = System.nanoTime()) {
        LockSupport.parkNanos(due - now);
      }
      pool.execute("maybe_crash", args).whenComplete((result, error) -> {
        long now = System.nanoTime();
        latencies.recordValue(Math.max(0, now - due));
        lastAnswer.accumulateAndGet(now, Math::max);
        Throwable cause = error instanceof CompletionException ? error.getCause() : error;
        String kind = cause == null ? "ok" : cause instanceof SnakepitException e ? e.kind()
            : cause.getClass().getSimpleName();
        outcomes.merge(kind, 1L, Long::sum);
        answered.countDown();
      });
    }
    boolean all = answered.await(DRAIN_SECONDS, TimeUnit.SECONDS);
    long end = all ? lastAnswer.get() : System.nanoTime();
    long unanswered = answered.getCount();
    return new Run(total, outcomes.getOrDefault("ok", 0L), unanswered, (end - start) / 1e9, new TreeMap<>(outcomes),
        latencies);
  }
}
