package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.actors.worker.StopTimeline;
import io.snakepit.testing.Commands;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM at any moment of a big pool's start: before settlement, while the workers are contained, reserved, spawned
 * and journaled, and right after the ready line. Each time the JVM is gone within the stop grace plus five seconds,
 * no process of the node is left (by /proc), and no journal entry is open ({@code reap --dry-run}).
 */
class StopMidStartIT {
  private static final int WORKERS = 64;
  /** The pools' default stop grace (reference.conf). */
  private static final Duration STOP_GRACE = Duration.ofSeconds(2);
  private static final Duration LIMIT = new StopTimeline(STOP_GRACE).nodeStop();
  /** Where in the start (0 = the settled line, 1 = the ready line) the rounds after the first stop the node. */
  private static final double[] FRACTIONS = {0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95};

  /**
   * The instance the nodes run as: the test run's, which {@code Nodes.java} sets as a system property (and which the
   * leak check looks for); each test has a data directory of its own.
   */
  private final String instance = TestNodes.INSTANCE;
  private final Path dataDir;

  StopMidStartIT() throws IOException {
    dataDir = Files.createTempDirectory("snakepit-stops");
  }

  /** A node of this test, its stdout lines timed from its launch. */
  private static final class Starting {
    final Process process;
    final int port;
    final long launched = System.nanoTime();
    final Path stderr;
    final CompletableFuture<Long> settled = new CompletableFuture<>();
    final CompletableFuture<Long> ready = new CompletableFuture<>();

    Starting(Process process, int port, Path stderr) {
      this.process = process;
      this.port = port;
      this.stderr = stderr;
      Thread reader = new Thread(this::read, "node-" + process.pid() + "-stdout");
      reader.setDaemon(true);
      reader.start();
    }

    private void read() {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null) {
          long at = System.nanoTime() - launched;
          if (line.startsWith("settled:")) {
            settled.complete(at);
          } else if (line.startsWith("ready:")) {
            ready.complete(at);
          }
        }
      } catch (IOException e) {
        // the node is gone
      }
      settled.complete(-1L);
      ready.complete(-1L);
    }
  }

  /** One round's outcome. */
  private record Stop(String moment, long stopMillis, int leftAtExit, String openEntries) {}

  @Test
  void sigtermAtTenMomentsOfABigStartEndsTheJvmPromptlyLeavingNothing() throws Exception {
    List<Stop> stops = new ArrayList<>();
    // Round 1 times the start, and stops the node right after its ready line.
    Starting first = launch();
    long settledAt = first.settled.get(120, TimeUnit.SECONDS);
    long readyAt = first.ready.get(120, TimeUnit.SECONDS);
    assertTrue(settledAt > 0 && readyAt > settledAt, "the node printed no settled: and ready: lines; its stderr:\n"
        + tail(first));
    stops.add(stop(first, "right after the ready line"));
    // Round 2: before settlement (the JVM, the actor system, the registry's recovery).
    Starting early = launch();
    Thread.sleep(TimeUnit.NANOSECONDS.toMillis(settledAt / 2));
    stops.add(stop(early, "before settlement, " + TimeUnit.NANOSECONDS.toMillis(settledAt / 2) + " ms in"));
    for (double f : FRACTIONS) {
      Starting node = launch();
      long settled = node.settled.get(120, TimeUnit.SECONDS);
      assertTrue(settled > 0, "the node printed no settled: line; its stderr:\n" + tail(node));
      long at = settled + (long) (f * (readyAt - settledAt));
      Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(at - (System.nanoTime() - node.launched))));
      stops.add(stop(node, String.format("%.0f %% into the workers' start", f * 100)));
    }
    System.out.println("SIGTERM during a start of " + WORKERS + " workers (ready after "
        + TimeUnit.NANOSECONDS.toMillis(readyAt) + " ms, settled after " + TimeUnit.NANOSECONDS.toMillis(settledAt)
        + " ms): JVM gone after");
    stops.forEach(s -> System.out.println("  " + s.moment() + ": " + s.stopMillis() + " ms, " + s.leftAtExit()
        + " processes at its exit, " + s.openEntries()));
  }

  @Test
  void sigtermMidResizeUnderLoadEndsTheJvmPromptlyLeavingNothing() throws Exception {
    // Each worker takes 1 s of setup, 2 at a time: the resize to 24 takes at least 11 s, so the stop lands in it.
    Starting node = launch(2, List.of("-Dsnakepit.pool-defaults.env.SNAKEPIT_EXAMPLE_SETUP_SECONDS=1"),
        "--adapter", "snakepit_worker.examples.slow_start:SlowStartAdapter");
    if (node.ready.get(120, TimeUnit.SECONDS) <= 0) {
      Commands.stop(node.process);
      throw new AssertionError("the node printed no ready: line; its stderr:\n" + tail(node));
    }
    String target = "127.0.0.1:" + node.port;
    Process load = new ProcessBuilder(Nodes.java("-jar", Nodes.jar().toString(), "load", "ping", "--target", target,
        "--data-dir", dataDir.toString(), "--concurrency", "4", "--duration", "60s"))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    List<Procs.Proc> tree = Procs.withInstance(instance);
    assertEquals(4, tree.size(), "2 shims and 2 workers before the resize: " + tree);
    Process scale = new ProcessBuilder(Nodes.java("-jar", Nodes.jar().toString(), "scale", "default", "24",
        "--target", target, "--data-dir", dataDir.toString()))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try {
      // The resize starts 22 workers, 2 at a time: once 4 have been launched, some are ready, some start, most wait.
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (Procs.withInstance(instance).size() < 12 && System.nanoTime() < until) {
        Thread.sleep(100);
      }
      assertTrue(Procs.withInstance(instance).size() >= 12, "the resize did not get under way");
      Stop stop = stop(node, "mid-resize from 2 to 24 workers, under load");
      System.out.println("SIGTERM mid-resize under load: JVM gone after " + stop.stopMillis() + " ms, "
          + stop.openEntries());
      assertTrue(scale.waitFor(30, TimeUnit.SECONDS), "scale did not end with its node");
      assertTrue(scale.exitValue() != 0, "scale reported success for a resize its node never finished");
    } finally {
      Commands.stop(load);
      Commands.stop(scale);
      Commands.stop(node.process); // gone already, unless an assertion failed before its stop
    }
  }

  private Starting launch() throws IOException {
    return launch(WORKERS, List.of());
  }

  /** A node of {@code workers} workers, with {@code jvmOptions} and more {@code serve} flags. */
  private Starting launch(int workers, List<String> jvmOptions, String... flags) throws IOException {
    int port = Nodes.freePort();
    List<String> args = new ArrayList<>(jvmOptions);
    args.addAll(List.of("-jar", Nodes.jar().toString(), "serve", "--data-dir", dataDir.toString(),
        "--workers", Integer.toString(workers), "--listen", "127.0.0.1:" + port));
    args.addAll(List.of(flags));
    List<String> cmd = Nodes.java(args.toArray(String[]::new));
    Path stderr = Files.createTempFile("snakepit-stops", ".stderr");
    return new Starting(new ProcessBuilder(cmd).redirectError(stderr.toFile()).start(), port, stderr);
  }

  /** SIGTERM, then: the JVM gone within the limit, no process left, no entry open. */
  private Stop stop(Starting node, String moment) throws Exception {
    long signalled = System.nanoTime();
    try {
      node.process.destroy(); // SIGTERM
      boolean gone = node.process.waitFor(LIMIT.toMillis() + 20_000, TimeUnit.MILLISECONDS);
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
      List<Procs.Proc> left = Procs.withInstance(instance);
      List<Procs.Proc> stillLeft = Procs.awaitGone(left, Duration.ofSeconds(2));
      assertTrue(gone, moment + ": the JVM was still running 20 s past its limit; its stderr:\n" + tail(node));
      assertTrue(millis <= LIMIT.toMillis(), moment + ": the JVM took " + millis + " ms to be gone after SIGTERM,"
          + " more than the stop grace plus " + StopTimeline.NODE_MARGIN.toSeconds() + " s (" + LIMIT.toMillis()
          + " ms); its stderr:\n" + tail(node));
      assertEquals(List.of(), left, moment + ": processes of the node outlived its JVM (still alive 2 s later: "
          + stillLeft + ")");
      List<String> log = Files.readAllLines(node.stderr);
      assertTrue(log.stream().noneMatch(l -> l.contains("Failed to persist") || l.contains("did not stop within")),
          moment + ": a journal write failed or a worker overran its stop; its stderr:\n" + tail(node));
      String open = openEntries();
      assertTrue(open.startsWith("would settle: 0 entries"), moment + ": entries left open: " + open
          + "; the node's stderr:\n" + tail(node));
      return new Stop(moment, millis, left.size(), open.split(",")[0]);
    } finally {
      Commands.stop(node.process);
    }
  }

  /** The summary line of {@code snakepit reap --dry-run}. */
  private String openEntries() throws Exception {
    Nodes.Run r = Nodes.snakepit("reap", "--dry-run", "--data-dir", dataDir.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    Matcher m = Pattern.compile("would settle: \\d+ entries[^\\n]*").matcher(r.out());
    assertTrue(m.find(), "reap --dry-run printed no summary: " + r.out());
    return m.group();
  }

  private static String tail(Starting node) throws IOException {
    List<String> lines = Files.readAllLines(node.stderr);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }
}
