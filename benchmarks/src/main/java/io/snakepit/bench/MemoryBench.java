package io.snakepit.bench;

import io.snakepit.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Memory: the JVM heap an idle worker costs, as the heap used after GC with a pool of many idle workers less that
 * with a pool of one, per extra worker; and the resident memory of a worker's shim, next to its Python's for scale.
 * Every worker has answered one call, so its channel is connected, as an idle worker's is in use.
 */
final class MemoryBench implements Bench {
  @Override
  public List<Measurement> run(Context c) throws Exception {
    int many = c.quick() ? 4 : 32;
    List<Double> perWorker = new ArrayList<>();
    List<Double> shims = new ArrayList<>();
    List<Double> pythons = new ArrayList<>();
    idleNode(c, 1); // warm-up, not measured: classes loaded, caches filled, as in a node that has been up a while
    for (int run = 0; run < c.runs(); run++) {
      Footprint one = idleNode(c, 1);
      Footprint all = idleNode(c, many);
      perWorker.add((all.heapKiB - one.heapKiB) / (many - 1));
      shims.add(all.shimKiB);
      pythons.add(all.pythonKiB);
    }
    return List.of(
        new Measurement("memory.heap-per-worker", "Memory", "JVM heap per idle worker", "KiB",
            new Series("heap after GC: (" + many + " workers - 1 worker) / " + (many - 1), perWorker), null,
            Goal.atMost(256, "<= 256 KiB"), "each sample from two nodes started one after the other in this JVM;"
            + " the pool's own cost cancels out"),
        new Measurement("memory.shim-rss", "Memory", "resident memory of one worker's shim", "KiB",
            new Series("snakepit-shim VmRSS, mean over " + many + " workers", shims), new Series("for scale: its"
            + " Python worker's VmRSS", pythons), Goal.none(), "VmRSS counts shared pages (libc, and the Python"
            + " interpreter's) in full in every process"));
  }

  private record Footprint(double heapKiB, double shimKiB, double pythonKiB) {}

  /** Starts a node of n workers, calls each once, and measures it idle. */
  private static Footprint idleNode(Context c, int n) throws Exception {
    try (Node node = Node.start(c, "p { workers = " + n + " }")) {
      node.awaitReady();
      Pool p = node.snakepit.pool("p");
      // One after another, each call goes to the idle worker that waited longest: n calls reach all n workers.
      for (int i = 0; i < n; i++) {
        p.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      Thread.sleep(300); // the last call's bookkeeping
      double heap = JvmUsage.heapAfterGcKiB();
      List<Double> shim = new ArrayList<>();
      List<Double> python = new ArrayList<>();
      for (ProcessTree.Proc proc : ProcessTree.withInstance(node.instance)) {
        String cmd = proc.cmdline();
        if (cmd.contains("snakepit-shim")) {
          shim.add(ProcessTree.residentKiB(proc.pid()));
        } else if (cmd.contains("snakepit_worker")) {
          python.add(ProcessTree.residentKiB(proc.pid()));
        }
      }
      if (shim.size() != n || python.size() != n) {
        throw new IllegalStateException("expected " + n + " shims and " + n + " Pythons of instance "
            + node.instance + ", found " + shim.size() + " and " + python.size());
      }
      return new Footprint(heap, mean(shim), mean(python));
    }
  }

  private static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }
}
