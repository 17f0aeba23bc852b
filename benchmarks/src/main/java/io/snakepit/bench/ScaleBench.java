package io.snakepit.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Pools of 16, 64 and 256 workers on this machine: the time until every worker is ready (start-concurrency at its
 * default, the processors), and what the idle node costs once they are: the CPU of this JVM (the node as
 * {@code snakepit serve} runs it: health checks at their defaults, Akka's scheduler tick at serve's 50 ms) while no
 * call is made, in % of one core, once the JIT has done compiling the start's code.
 */
final class ScaleBench implements Bench {
  /** The longest wait for the JIT to settle after the start, before the idle window. */
  private static final long SETTLE_LIMIT_SECONDS = 240;
  /** The JIT counts as settled once it compiles for less than this share of a core over 10 s. */
  private static final double SETTLED_COMPILE_SHARE = 0.002;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Integer> sizes = c.quick() ? List.of(4, 16) : List.of(16, 64, 256);
    long idleSeconds = c.quick() ? 5 : 30;
    int cores = Runtime.getRuntime().availableProcessors();
    List<Measurement> out = new ArrayList<>();
    for (int n : sizes) {
      List<Double> ready = new ArrayList<>();
      List<Double> idle = new ArrayList<>();
      List<Double> settled = new ArrayList<>();
      // One run per size: 256 workers take a minute to start on two cores, and the idle window is long already.
      try (Node node = Node.start(c, c.freshInstance("bench"), "p { workers = " + n + ", health.interval = 5s }",
          "akka.scheduler.tick-duration = 50ms")) {
        node.snakepit.settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        node.snakepit.ready().toCompletableFuture().get(20, TimeUnit.MINUTES);
        ready.add((System.nanoTime() - t0) / 1e6);
        settled.add(settle(c.quick() ? 5 : SETTLE_LIMIT_SECONDS));
        long cpu0 = cpuNanos();
        long wall0 = System.nanoTime();
        Thread.sleep(TimeUnit.SECONDS.toMillis(idleSeconds));
        idle.add(100.0 * (cpuNanos() - cpu0) / (System.nanoTime() - wall0));
      }
      out.add(new Measurement("scale.ready.n" + n, "Big pools", n + " workers until all are ready ("
          + cores + " cores, " + cores + " starting at a time)", "ms", new Series("snakepit pool", ready), null,
          Goal.none(), String.format(java.util.Locale.ROOT, "%.0f ms per worker per core",
          ready.get(0) * cores / n)));
      out.add(new Measurement("scale.idle.n" + n, "Big pools", "idle node with " + n + " ready workers, CPU over "
          + idleSeconds + " s", "% of one core", new Series("snakepit node (this JVM)", idle), null,
          n >= 256 ? Goal.atMost(2, "<= 2 % of one core at 256 workers") : Goal.none(),
          String.format(java.util.Locale.ROOT, "measured once the JIT had settled, %.0f s after ready",
              settled.get(0))));
    }
    return out;
  }

  /**
   * Waits until the JIT compiles for less than {@link #SETTLED_COMPILE_SHARE} of a core over 10 s, or {@code limit}
   * seconds; returns the seconds waited.
   */
  private static double settle(long limit) throws InterruptedException {
    java.lang.management.CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    long start = System.nanoTime();
    long window = Math.min(10, limit);
    long before = jit.getTotalCompilationTime();
    while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(limit)) {
      Thread.sleep(TimeUnit.SECONDS.toMillis(window));
      long now = jit.getTotalCompilationTime();
      if (now - before < SETTLED_COMPILE_SHARE * window * 1000) {
        break;
      }
      before = now;
    }
    return (System.nanoTime() - start) / 1e9;
  }

  /** CPU time this JVM has used, every thread, in nanoseconds. */
  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
