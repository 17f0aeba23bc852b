package io.snakepit.bench;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Stop: SIGTERM to a node's JVM in the middle of a big pool's start (half-way from its settlement to its ready line,
 * as a first full start measured), until the JVM is gone; then every process of the node must be gone too. The
 * node's stop covers every worker's, the registry's last writes and the journal's close.
 */
final class StopBench implements Bench {
  private static final Duration POLL = Duration.ofMillis(1);
  /** The pools' default stop grace (reference.conf): a node is gone this plus 5 s after SIGTERM, at the latest. */
  private static final double LIMIT_MS = 2_000 + 5_000;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    int n = c.quick() ? 16 : 64;
    Started full = start(c, n);
    long settled = full.settled.get(10, TimeUnit.MINUTES);
    long ready = full.ready.get(10, TimeUnit.MINUTES);
    if (settled < 0 || ready < 0) {
      throw new IllegalStateException("the node JVM " + full.jvm.pid() + " printed no settled and ready lines; its"
          + " stderr: " + tail(full.stderr));
    }
    stop(full);
    long midStart = (ready - settled) / 2;
    List<Double> millis = new ArrayList<>();
    for (int run = 0; run < c.runs(); run++) {
      Started node = start(c, n);
      long at = node.settled.get(10, TimeUnit.MINUTES);
      if (at < 0) {
        throw new IllegalStateException("the node JVM " + node.jvm.pid() + " printed no settled line; its stderr: "
            + tail(node.stderr));
      }
      TimeUnit.NANOSECONDS.sleep(Math.max(0, at + midStart - (System.nanoTime() - node.launched)));
      millis.add(stop(node));
    }
    String note = "SIGTERM " + TimeUnit.NANOSECONDS.toMillis(midStart) + " ms after the settled line (half of a full"
        + " start's " + TimeUnit.NANOSECONDS.toMillis(ready - settled) + " ms from settled to ready); stop grace 2 s;"
        + " every process of the node was gone at the JVM's exit; where the time goes: docs/PERFORMANCE.md, Stop";
    return List.of(new Measurement("stop.midstart.n" + n, "Stop", "SIGTERM mid-start of " + n
        + " workers until the JVM is gone", "ms", new Series("snakepit, process mode", millis), null,
        Goal.atMost(LIMIT_MS, "<= stop grace + 5 s"), note));
  }

  /** A node JVM starting, its stdout lines timed from its launch (nanoseconds; -1 if the output ended first). */
  private record Started(Process jvm, long launched, Path stderr, String instance, CompletableFuture<Long> settled,
      CompletableFuture<Long> ready) {}

  private static Started start(Context c, int n) throws IOException {
    String instance = c.freshInstance("bench");
    String config = ConfigFactory.parseString("snakepit.pools { default = null, p { workers = " + n + " } }")
        .withFallback(Node.settings(c, instance)).root().render(ConfigRenderOptions.concise());
    Path stderr = Files.createTempFile(c.scratch(), "stop-node", ".stderr");
    Process jvm = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), NodeMain.class.getName(), config)
        .redirectError(stderr.toFile()).start();
    Started s = new Started(jvm, System.nanoTime(), stderr, instance, new CompletableFuture<>(),
        new CompletableFuture<>());
    Thread reader = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(jvm.getInputStream(),
          StandardCharsets.UTF_8))) {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          if (line.equals("settled")) {
            s.settled.complete(System.nanoTime() - s.launched);
          } else if (line.startsWith("ready ")) {
            s.ready.complete(System.nanoTime() - s.launched);
          }
        }
      } catch (IOException e) {
        // the node is gone
      }
      s.settled.complete(-1L);
      s.ready.complete(-1L);
    }, "stop-node-stdout");
    reader.setDaemon(true);
    reader.start();
    return s;
  }

  /** SIGTERM; returns ms until the JVM is gone, having checked that no process of the node outlived it. */
  private static double stop(Started node) throws Exception {
    long signalled = System.nanoTime();
    try {
      node.jvm.destroy(); // SIGTERM
      if (!node.jvm.waitFor(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the node JVM " + node.jvm.pid() + " still ran 60 s after SIGTERM; its"
            + " stderr: " + tail(node.stderr));
      }
      double millis = (System.nanoTime() - signalled) / 1e6;
      List<ProcessTree.Proc> left = ProcessTree.withInstance(node.instance);
      if (!left.isEmpty()) {
        List<ProcessTree.Proc> still = ProcessTree.awaitGone(left, POLL, Duration.ofSeconds(10));
        throw new IllegalStateException(left.size() + " processes of the node outlived its JVM after SIGTERM ("
            + still.size() + " still 10 s later): " + left);
      }
      return millis;
    } finally {
      if (node.jvm.isAlive()) {
        node.jvm.destroyForcibly();
        node.jvm.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  private static String tail(Path file) throws IOException {
    String text = Files.readString(file);
    return text.length() > 4000 ? "..." + text.substring(text.length() - 4000) : text;
  }
}
