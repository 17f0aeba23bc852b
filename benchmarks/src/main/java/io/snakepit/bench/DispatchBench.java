package io.snakepit.bench;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.regex.Pattern;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Dispatch: what the pool adds to a call, against a bare client calling the same workers over the same transport (their
 * calls sockets). JMH times {@link DispatchCalls} in a forked JVM, the pool and the bare client taking turns by
 * iteration:
 * throughput at saturation ({@link #IN_FLIGHT} threads, each with one call in flight) in one fork, and the latency of
 * one call alone (one thread, sampled) in another. Each measured iteration is one sample of the report.
 */
final class DispatchBench implements Bench {
  /** Python workers: one per core of the 2-core reference machine. */
  static final int WORKERS = 2;
  /**
   * Calls per worker at once. Above 1 so that, at saturation, each worker's gRPC server always has a call queued and
   * the JVM's path is what limits the rate rather than a worker idling during the round trip.
   */
  static final int CONCURRENCY = 4;
  /** The in-flight bound, the same for both sides: the pool's slots, and JMH's threads. */
  static final int IN_FLIGHT = WORKERS * CONCURRENCY;

  private static final String RAW = "floor: a bare client of the same calls sockets";

  /** The measured iterations of one JMH run, split by side, each side's in the order they ran. */
  private record Turns(List<Result> pool, List<Result> raw) {

    List<Double> pool(ToDoubleFunction<Result> value) {
      return pool.stream().map(value::applyAsDouble).toList();
    }

    List<Double> raw(ToDoubleFunction<Result> value) {
      return raw.stream().map(value::applyAsDouble).toList();
    }
  }

  @Override
  public List<Measurement> run(Context c) throws Exception {
    // Socket paths may not exceed 107 bytes: the run directory goes under a short base, not the scratch directory.
    Path runBase = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "spd");
    Path log = c.scratch().resolve("dispatch-jmh.txt");
    try (PrintStream out = new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
      Turns rates = jmh(c, runBase, out, Mode.Throughput, IN_FLIGHT, TimeUnit.SECONDS);
      Turns alone = jmh(c, runBase, out, Mode.SampleTime, 1, TimeUnit.MICROSECONDS);
      return measurements(rates, alone);
    } catch (RunnerException | RuntimeException e) {
      throw new IllegalStateException("JMH failed in the dispatch benchmark: " + e.getMessage() + "; its output is in "
          + log, e);
    } finally {
      DispatchCalls.deleteTree(runBase);
    }
  }

  private static Turns jmh(Context c, Path runBase, PrintStream out, Mode mode, int threads, TimeUnit unit)
      throws RunnerException {
    // Warm-up iterations take turns too, so both sides are warm; 16 s in all: the pool's path (actors, futures,
    // Netty) keeps getting faster for about 10 s of load in a fresh JVM. Measured iterations: one per side per run.
    Options options = new OptionsBuilder()
        .include(Pattern.quote(DispatchCalls.class.getName()) + "\\.ping$")
        .mode(mode)
        .timeUnit(unit)
        .threads(threads)
        .forks(1)
        .warmupIterations(c.quick() ? 2 : 8)
        .warmupTime(c.quick() ? TimeValue.milliseconds(300) : TimeValue.seconds(2))
        .measurementIterations(c.quick() ? 2 : 2 * c.runs())
        .measurementTime(c.quick() ? TimeValue.milliseconds(500) : TimeValue.seconds(2))
        .shouldFailOnError(true)
        // The fork gets the host JVM's command-line options, not properties set at run time (as failsafe sets
        // them): pass what the node needs explicitly.
        .jvmArgsAppend("-Dsnakepit.python=" + c.python(), "-Dsnakepit.root=" + c.root(),
            "-D" + DispatchCalls.SCRATCH + "=" + c.scratch(),
            "-D" + DispatchCalls.INSTANCE + "=" + c.freshInstance("bench"),
            "-D" + DispatchCalls.RUN_BASE + "=" + runBase,
            "-D" + Node.METRICS_PROPERTY + "=" + System.getProperty(Node.METRICS_PROPERTY, "off"))
        .build();
    List<Result> pool = new ArrayList<>();
    List<Result> raw = new ArrayList<>();
    for (RunResult run : new Runner(options, OutputFormatFactory.createFormatInstance(out, VerboseMode.NORMAL)).run()) {
      run.getBenchmarkResults().forEach(fork -> {
        int i = 0;
        for (IterationResult iteration : fork.getIterationResults()) {
          (DispatchCalls.poolsTurn(i++) ? pool : raw).add(iteration.getPrimaryResult());
        }
      });
    }
    if (pool.isEmpty() || pool.size() != raw.size()) {
      throw new IllegalStateException("JMH returned " + pool.size() + " iterations of the pool and " + raw.size()
          + " of the raw client, " + mode + "; expected as many of each, at least one");
    }
    return new Turns(pool, raw);
  }

  private static List<Measurement> measurements(Turns rates, Turns alone) {
    String setup = WORKERS + " workers, concurrency " + CONCURRENCY + " each. JMH, one forked JVM per mode, the pool"
        + " and the raw client taking turns by iteration (pool, raw, raw, pool, ...), one sample per measured iteration";
    List<Double> poolP50 = alone.pool(r -> r.getStatistics().getPercentile(50));
    List<Double> rawP50 = alone.raw(r -> r.getStatistics().getPercentile(50));
    List<Double> poolP99 = alone.pool(r -> r.getStatistics().getPercentile(99));
    List<Double> rawP99 = alone.raw(r -> r.getStatistics().getPercentile(99));
    List<Measurement> out = new ArrayList<>();
    out.add(new Measurement("dispatch.throughput", "Dispatch", "ping at saturation, " + IN_FLIGHT + " in flight",
        "calls/s", new Series("snakepit pool", rates.pool(Result::getScore)), new Series(RAW,
        rates.raw(Result::getScore)), Goal.ratioAtLeast(0.95, ">= 0.95x the raw client"), setup + ". " + IN_FLIGHT
        + " threads, each waiting for its call before the next, on both sides. The raw side speaks the pool's own"
        + " transport (the workers' calls sockets: length-prefixed frames over Netty's epoll domain sockets, an event"
        + " loop of the node's size, futures completed on it) with nothing around it, and deals its calls"
        + " round robin so that each worker always holds " + CONCURRENCY + " of them, as the pool keeps it: a floor"
        + " with perfect balance at no cost. On 2 cores the JVM and both Python workers share the CPU, so CPU the JVM"
        + " spends per call is taken from Python."));
    out.add(new Measurement("dispatch.latency.p50", "Dispatch latency", "p50 of one call alone", "µs",
        new Series("snakepit pool", poolP50), new Series(RAW, rawP50), Goal.none(), setup
        + ". One thread, one call at a time: no queueing on either side."));
    out.add(new Measurement("dispatch.latency.p99", "Dispatch latency", "p99 of one call alone", "µs",
        new Series("snakepit pool", poolP99), new Series(RAW, rawP99), Goal.none(), setup + "."));
    out.add(new Measurement("dispatch.added.p50", "Dispatch latency", "added p50 (pool − raw)", "µs",
        new Series("pool p50 − raw p50, per pair of turns", difference(poolP50, rawP50)), null,
        Goal.atMost(50, "<= 50 µs added"), "Each sample is a pool iteration's p50 minus the raw iteration's p50 next"
        + " to it in time (the pairs of pool, raw, raw, pool, ...); the goal holds the median of those differences."
        + " The absolute p50s are in 'p50 of one call alone'."));
    out.add(new Measurement("dispatch.added.p99", "Dispatch latency", "added p99 (pool − raw)", "µs",
        new Series("pool p99 − raw p99, per pair of turns", difference(poolP99, rawP99)), null, Goal.none(),
        "As the added p50, at the 99th percentile. No goal: the tail is set by the machine (GC, three busy processes"
        + " on two cores)."));
    return out;
  }

  private static List<Double> difference(List<Double> a, List<Double> b) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      out.add(a.get(i) - b.get(i));
    }
    return out;
  }
}
