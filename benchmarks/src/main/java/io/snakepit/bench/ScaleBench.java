package io.snakepit.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Pools of 16, 64 and 256 workers on this machine: the time until every worker is ready (start-concurrency at its
 * default, the processors), and what the idle node costs once they are: the CPU of this JVM (the node, as an
 * embedder runs it, health pings on at their defaults) while no call is made, in % of one core.
 */
final class ScaleBench implements Bench {
  /** How long the node settles after its start before the idle window (the JIT compiles the start's code). */
  private static final long SETTLE_SECONDS = 20;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Integer> sizes = c.quick() ? List.of(4, 16) : List.of(16, 64, 256);
    long idleSeconds = c.quick() ? 5 : 30;
    int cores = Runtime.getRuntime().availableProcessors();
    List<Measurement> out = new ArrayList<>();
    for (int n : sizes) {
      List<Double> ready = new ArrayList<>();
      List<Double> idle = new ArrayList<>();
      // One run per size: 256 workers take a minute to start on two cores, and the idle window is long already.
      try (Node node = Node.start(c, "p { workers = " + n + ", health.interval = 5s }")) {
        node.snakepit.settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        node.snakepit.ready().toCompletableFuture().get(20, TimeUnit.MINUTES);
        ready.add((System.nanoTime() - t0) / 1e6);
        Thread.sleep(TimeUnit.SECONDS.toMillis(c.quick() ? 2 : SETTLE_SECONDS));
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
          n >= 256 ? Goal.atMost(2, "<= 2 % of one core at 256 workers") : Goal.none(), ""));
    }
    return out;
  }

  /** CPU time this JVM has used, every thread, in nanoseconds. */
  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
