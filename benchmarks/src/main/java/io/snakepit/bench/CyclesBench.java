package io.snakepit.bench;

import io.snakepit.Pool;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Cycles: one worker started and stopped again and again, against a bare Python gRPC server started and stopped as
 * often; then what the cycles left behind in this JVM and on the host.
 *
 * <p>The subject is a pool of one worker with {@code recycle.max-calls = 1}, pinged once per cycle: every call
 * retires its worker, whose stop (STOP to the shim, the gRPC server's shutdown, the shim's EXIT) runs while the pool
 * starts its successor (journal reserve, shim, Python, ready, journal spawned), and the next ping waits for that
 * successor. That is the path every replacement takes, so a cycle is a real start and a real stop of a worker
 * process, not a reuse of one. The floor starts {@code floor_server.py} (imports grpc, serves on a Unix socket),
 * reads its "ready", closes its stdin and waits for its exit.
 */
final class CyclesBench implements Bench {
  /** Descriptors the JVM may gain over all cycles before the bench fails: lazily opened files, not a leak. */
  private static final int FD_SLACK = 8;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    int total = c.quick() ? 30 : 1000;
    int batch = Math.max(1, total / c.runs());
    List<Double> pool = new ArrayList<>();
    List<Double> floor = new ArrayList<>();
    double fdsBefore;
    double fdsAfter;
    double heapBefore;
    double heapAfter;
    String instance;
    Path sockets = Files.createTempDirectory(c.scratch(), "cycles");
    try (Node node = Node.start(c, "p { workers = 1, recycle.max-calls = 1 }")) {
      instance = node.instance;
      node.awaitReady();
      Pool p = node.snakepit.pool("p");
      // Warm-up, not measured: a few cycles of each, so that classes, channels and threads exist before the count.
      for (int i = 0; i < 3; i++) {
        ping(p);
        floorCycle(c, sockets);
      }
      fdsBefore = JvmUsage.openFds();
      heapBefore = JvmUsage.heapAfterGcKiB();
      for (int run = 0; run < c.runs(); run++) {
        Thread.sleep(500); // the pool's last successor finishes its start: the floor runs on a quiet machine
        long t0 = System.nanoTime();
        for (int i = 0; i < batch; i++) {
          floorCycle(c, sockets);
        }
        floor.add((System.nanoTime() - t0) / 1e6 / batch);
        ping(p); // not timed: retires the ready worker, so that each timed ping waits for a start of its own
        t0 = System.nanoTime();
        for (int i = 0; i < batch; i++) {
          ping(p);
        }
        pool.add((System.nanoTime() - t0) / 1e6 / batch);
      }
      // The last ping's worker is still being replaced; let that settle before the count.
      node.awaitReady();
      Thread.sleep(500);
      fdsAfter = JvmUsage.openFds();
      heapAfter = JvmUsage.heapAfterGcKiB();
    }
    List<ProcessTree.Proc> leaked = ProcessTree.awaitGone(ProcessTree.withInstance(instance), Duration.ofMillis(10),
        Duration.ofSeconds(10));
    List<Integer> zombies = awaitNoZombies(Duration.ofSeconds(5));

    int cycles = batch * c.runs();
    List<Measurement> out = new ArrayList<>();
    out.add(new Measurement("cycles.cycle", "Cycles", "one worker started and stopped, per cycle (" + cycles
        + " cycles)", "ms", new Series("snakepit pool, recycle.max-calls = 1", pool), new Series("floor: bare Python"
        + " gRPC server started, ready, stopped", floor), Goal.none(), "each sample is the mean of " + batch
        + " cycles; the pool stops the old worker while it starts the next, the floor does one after the other"));
    out.add(new Measurement("cycles.fds", "Cycles: leftovers", "open descriptors of this JVM after the cycles",
        "fds", new Series("after", List.of(fdsAfter)), new Series("before", List.of(fdsBefore)),
        Goal.atMost(fdsBefore + FD_SLACK, "<= before + " + FD_SLACK), "/proc/self/fd with the node running, after"
        + " the warm-up and after the last cycle"));
    out.add(new Measurement("cycles.heap", "Cycles: leftovers", "heap used after GC after the cycles", "KiB",
        new Series("after", List.of(heapAfter)), new Series("before", List.of(heapBefore)), Goal.none(),
        "with the node running, after System.gc()"));
    out.add(new Measurement("cycles.leaked", "Cycles: leftovers", "processes of the node alive after its stop",
        "processes", new Series("after the node's stop", List.of((double) leaked.size())), null,
        Goal.atMost(0, "none"), leaked.isEmpty() ? "" : "leaked: " + leaked));
    out.add(new Measurement("cycles.zombies", "Cycles: leftovers", "zombie children of this JVM after the node's stop",
        "processes", new Series("after the node's stop", List.of((double) zombies.size())), null,
        Goal.atMost(0, "none"), zombies.isEmpty() ? "" : "zombies: " + zombies));

    List<String> problems = new ArrayList<>();
    if (!leaked.isEmpty()) {
      ProcessTree.kill(leaked);
      problems.add(leaked.size() + " processes of instance " + instance + " outlived the node (killed now): "
          + leaked);
    }
    if (!zombies.isEmpty()) {
      problems.add("zombie children of this JVM: " + zombies);
    }
    if (fdsAfter > fdsBefore + FD_SLACK) {
      problems.add("open descriptors grew from " + (int) fdsBefore + " to " + (int) fdsAfter + " over " + cycles
          + " cycles");
    }
    if (!problems.isEmpty()) {
      out.forEach(m -> System.out.println("  " + m.title() + ": " + m.subject().samples()));
      throw new IllegalStateException("cycles: " + String.join("; ", problems));
    }
    return out;
  }

  private static void ping(Pool p) throws Exception {
    String pong = p.execute("ping", "{}").toCompletableFuture().get(60, TimeUnit.SECONDS).json();
    if (!pong.contains("pong")) {
      throw new IllegalStateException("ping answered " + pong);
    }
  }

  /** One bare Python gRPC server: started, ready, told to stop (stdin EOF), exited. */
  private static void floorCycle(Context c, Path sockets) throws Exception {
    Path socket = sockets.resolve("floor.sock");
    Process p = new ProcessBuilder(c.python(), c.peer("floor_server.py").toString(), socket.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (ChildDeadline deadline = ChildDeadline.of(p, Duration.ofMinutes(1), "a floor server's cycle")) {
      String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
      if (!"ready".equals(line)) {
        throw new IllegalStateException("a floor server did not start: " + line);
      }
      p.getOutputStream().close();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("a floor server " + p.pid() + " did not stop at stdin EOF");
      }
      p.getInputStream().close();
      p.getErrorStream().close();
    } finally {
      if (p.isAlive()) {
        p.destroyForcibly();
        ChildDeadline.reap(p);
      }
      Files.deleteIfExists(socket);
    }
  }

  private static List<Integer> awaitNoZombies(Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    List<Integer> zombies = ProcessTree.zombieChildren();
    while (!zombies.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50);
      zombies = ProcessTree.zombieChildren();
    }
    return zombies;
  }
}
