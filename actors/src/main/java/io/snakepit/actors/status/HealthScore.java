package io.snakepit.actors.status;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One worker's health, 0.0 (recycle it) to 1.0 (fine), from five factors, each itself 0 to 1: a weighted geometric
 * mean, {@code memory^0.4 * latency^0.2 * cpu^0.15 * restarts^0.15 * uptime^0.1}. A factor at 1 costs nothing; one
 * near 0 pulls the score towards 0 however fine the others are, so a leak alone can recycle a worker, while the
 * factors that a legitimately busy worker also shows (CPU, latency) and its slot's history have floors that keep
 * them from doing so on their own. Plain arithmetic, so that every curve is tested without a process.
 *
 * <p>The factors (docs/OPERATIONS.md, "Worker status and health"):
 * <ul>
 *   <li>memory: the Python process's resident memory against the pool's limit ({@code recycle.max-rss}, else the
 *   isolation memory limit): 1 up to half of it, then down to 0 at the limit; without a limit, against the worker's
 *   own resident memory when it became ready: 1 up to 1.5x, 0.8 at 2x, 0.4 at 3x, 0 at 4x and beyond;</li>
 *   <li>cpu: its CPU use since the last evaluation against its share (one core, or {@code isolation.limits.cpu}):
 *   1 up to 80%, down to 0.25 at 100% and above;</li>
 *   <li>latency: its calls' average time against the median of its pool's workers: 1 up to 1.5x, down to 0.25 at
 *   5x and beyond; 1 while fewer than two workers of the pool have served calls;</li>
 *   <li>restarts: workers its slot lost (any exit but a requested stop) within the window: 1 for none, then 0.75,
 *   0.5, and 0.25 for 3 or more;</li>
 *   <li>uptime: 0.8 for a worker just started, rising to 1 at one minute.</li>
 * </ul>
 */
public record HealthScore(double score, Factors factors, String why) {

  /** The weights (exponents), in the order memory, latency, cpu, restarts, uptime; they sum to 1. */
  static final double MEMORY_WEIGHT = 0.4;
  static final double LATENCY_WEIGHT = 0.2;
  static final double CPU_WEIGHT = 0.15;
  static final double RESTARTS_WEIGHT = 0.15;
  static final double UPTIME_WEIGHT = 0.1;
  /** Uptime from which a worker counts as grown up. */
  static final Duration GROWN_UP = Duration.ofMinutes(1);

  /** Each factor, 0 to 1 (1: nothing wrong). */
  public record Factors(double memory, double cpu, double latency, double restarts, double uptime) {}

  /**
   * What a score is computed from.
   *
   * @param rssBytes the Python process's resident memory now
   * @param baselineBytes its resident memory when it became ready (0: unknown)
   * @param limitBytes the pool's memory limit (0: none; then the baseline counts)
   * @param limitName the setting that gave the limit, for the explanation
   * @param cpuShare its CPU use as a fraction of its share (1.0: all of it); negative when not measured yet
   * @param latencyRatio its average call time over its pool's median; NaN when there is no median to compare with
   * @param restarts workers its slot lost within the window
   * @param restartsWindow that window
   * @param uptime since it became ready
   */
  public record Inputs(long rssBytes, long baselineBytes, long limitBytes, String limitName, double cpuShare,
      double latencyRatio, int restarts, Duration restartsWindow, Duration uptime) {}

  /**
   * The score of {@code in}, its factors, and why it is below 1 in words (empty when it is not): the factors that cost
   * something, the costliest first.
   */
  public static HealthScore of(Inputs in) {
    List<String> memoryWhy = new ArrayList<>();
    double memory = memory(in, memoryWhy);
    double cpu = cpu(in.cpuShare());
    double latency = latency(in.latencyRatio());
    double restarts = restarts(in.restarts());
    double uptime = uptime(in.uptime());
    List<Map.Entry<Double, String>> why = new ArrayList<>();
    note(why, memory, MEMORY_WEIGHT, memoryWhy.isEmpty() ? "" : memoryWhy.get(0));
    note(why, cpu, CPU_WEIGHT, String.format(Locale.ROOT, "cpu %.0f%% of its share", in.cpuShare() * 100));
    note(why, latency, LATENCY_WEIGHT, String.format(Locale.ROOT, "latency %.1fx the pool's median",
        in.latencyRatio()));
    note(why, restarts, RESTARTS_WEIGHT, in.restarts() + (in.restarts() == 1 ? " restart" : " restarts")
        + " of its slot in " + in.restartsWindow().toMinutes() + " min");
    note(why, uptime, UPTIME_WEIGHT, "up " + in.uptime().toSeconds() + " s");
    double score = Math.pow(memory, MEMORY_WEIGHT) * Math.pow(latency, LATENCY_WEIGHT) * Math.pow(cpu, CPU_WEIGHT)
        * Math.pow(restarts, RESTARTS_WEIGHT) * Math.pow(uptime, UPTIME_WEIGHT);
    why.sort(Map.Entry.comparingByKey());
    return new HealthScore(clamp(score), new Factors(memory, cpu, latency, restarts, uptime),
        String.join(", ", why.stream().map(Map.Entry::getValue).toList()));
  }

  /** Adds {@code text} to {@code why} when the factor costs something, keyed by what it leaves of the score. */
  private static void note(List<Map.Entry<Double, String>> why, double factor, double weight, String text) {
    if (factor < 1) {
      why.add(Map.entry(Math.pow(factor, weight), text));
    }
  }

  /** The memory factor: against the limit when there is one, else against the baseline. */
  static double memory(Inputs in, List<String> why) {
    if (in.rssBytes() <= 0) {
      return 1;
    }
    if (in.limitBytes() > 0) {
      double used = (double) in.rssBytes() / in.limitBytes();
      double f = clamp(1 - (used - 0.5) / 0.5);
      if (f < 1) {
        why.add(String.format(Locale.ROOT, "memory %d MiB, %.0f%% of %s %d MiB", in.rssBytes() >> 20, used * 100,
            in.limitName(), in.limitBytes() >> 20));
      }
      return f;
    }
    if (in.baselineBytes() <= 0) {
      return 1;
    }
    double growth = (double) in.rssBytes() / in.baselineBytes();
    double f = clamp(1 - (growth - 1.5) / 2.5);
    if (f < 1) {
      why.add(String.format(Locale.ROOT, "memory %.1fx baseline (%d of %d MiB)", growth, in.rssBytes() >> 20,
          in.baselineBytes() >> 20));
    }
    return f;
  }

  /** The cpu factor of a use of {@code share} of the worker's share: 1 to 80%, 0.25 from 100%. */
  static double cpu(double share) {
    if (share <= 0.8) {
      return 1;
    }
    return Math.max(0.25, 1 - (share - 0.8) / 0.2 * 0.75);
  }

  /** The latency factor of a ratio to the pool's median: 1 to 1.5x, 0.25 from 5x; 1 when unknown. */
  static double latency(double ratio) {
    if (Double.isNaN(ratio) || ratio <= 1.5) {
      return 1;
    }
    return Math.max(0.25, 1 - (ratio - 1.5) / 3.5 * 0.75);
  }

  /** The restarts factor: 1, 0.75, 0.5, then 0.25 from 3. */
  static double restarts(int restarts) {
    return Math.max(0.25, 1 - 0.25 * Math.max(0, restarts));
  }

  /** The uptime factor: 0.8 at start, 1 from a minute. */
  static double uptime(Duration uptime) {
    double grown = Math.min(1, Math.max(0, (double) uptime.toMillis() / GROWN_UP.toMillis()));
    return 0.8 + 0.2 * grown;
  }

  private static double clamp(double value) {
    return Math.max(0, Math.min(1, value));
  }
}
