package io.snakepit.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Start: N workers from the pool's start until every one is ready, against the floor of N bare Python processes that
 * import grpc and serve on a Unix socket, launched in parallel; and ({@link Isolation}) each isolation mode against
 * the process mode.
 */
final class StartBench implements Bench {
  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Measurement> out = new ArrayList<>();
    List<Integer> sizes = c.quick() ? List.of(1, 4) : List.of(1, 8, 32);
    // Warm-up, not measured: the first node of the JVM loads classes and unpacks the shim and the worker package.
    floor(c, 1);
    poolStart(c, 1, "process");
    for (int n : sizes) {
      List<Double> pool = new ArrayList<>();
      List<Double> floor = new ArrayList<>();
      for (int run = 0; run < c.runs(); run++) {
        // Side by side, alternating, so drift on the machine hits both alike.
        floor.add(floor(c, n));
        pool.add(poolStart(c, n, "process"));
      }
      out.add(new Measurement("start.n" + n, "Start", n + " workers until all are ready", "ms",
          new Series("snakepit pool, process mode", pool), new Series("floor: " + n + " bare Python gRPC servers"
          + " on Unix sockets, in parallel", floor), Goal.ratioAtMost(1.2, "<= 1.2x the floor"), ""));
    }
    return out;
  }

  /** The isolation modes, each against the process mode, measured alternately (issue: start overhead per mode). */
  static List<Measurement> isolationModes(Context c) throws Exception {
    int n = c.quick() ? 2 : 4;
    List<String> modes = List.of("cgroup", "namespaces", "runc");
    poolStart(c, 1, "process"); // warm-up, not measured
    Map<String, List<Double>> samples = new LinkedHashMap<>();
    samples.put("process", new ArrayList<>());
    modes.forEach(m -> samples.put(m, new ArrayList<>()));
    for (int run = 0; run < c.runs(); run++) {
      for (String mode : samples.keySet()) {
        samples.get(mode).add(poolStart(c, n, mode));
      }
    }
    List<Measurement> out = new ArrayList<>();
    Series process = new Series("process mode", samples.get("process"));
    for (String mode : modes) {
      out.add(new Measurement("isolation." + mode, "Isolation", n + " workers until ready, " + mode + " mode", "ms",
          new Series(mode + " mode", samples.get(mode)), process, Goal.none(), ""));
    }
    return out;
  }

  /** Milliseconds from the start of a pool of n workers (in a fresh node) until all are ready. */
  static double poolStart(Context c, int n, String mode) throws Exception {
    String limits = mode.equals("process") ? "" : ", limits.pids = 4096";
    long t0;
    long t1;
    try (Node node = Node.start(c, "p { workers = " + n + ", isolation { mode = " + mode + limits + " } }")) {
      // The node's own start (actor system, registry, settlement) is not the pool's: wait for it first.
      node.snakepit.settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
      t0 = System.nanoTime();
      node.awaitReady();
      t1 = System.nanoTime();
    }
    return (t1 - t0) / 1e6;
  }

  /** Milliseconds until n bare Python gRPC servers, started in parallel, all said they serve. */
  static double floor(Context c, int n) throws Exception {
    Path dir = Files.createTempDirectory(c.scratch(), "floor");
    List<Process> started = new ArrayList<>();
    long t0 = System.nanoTime();
    try {
      for (int i = 0; i < n; i++) {
        started.add(new ProcessBuilder(c.python(), c.peer("floor_server.py").toString(),
            dir.resolve("s" + i + ".sock").toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start());
      }
      try (ChildDeadline deadline = new ChildDeadline(started, Duration.ofMinutes(2), "starting floor servers")) {
        for (Process p : started) {
          String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
          if (!"ready".equals(line)) {
            throw new IllegalStateException("a floor server did not start: " + line);
          }
        }
      }
      return (System.nanoTime() - t0) / 1e6;
    } finally {
      for (Process p : started) {
        p.getOutputStream().close(); // EOF: the server stops
      }
      for (Process p : started) {
        ChildDeadline.reap(p);
      }
    }
  }
}
