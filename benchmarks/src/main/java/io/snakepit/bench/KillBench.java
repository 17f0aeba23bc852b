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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Kill: {@code kill -9} of a JVM running a node, until the last process of its workers' trees is gone. Each worker
 * has grown a tree first (the forking adapter's {@code spawn_tree}: a multiprocessing child, a subprocess and a
 * double-forked grandchild), so a sample covers five processes per worker. Only the kill is timed, not the start.
 */
final class KillBench implements Bench {
  private static final String ADAPTER = "snakepit_worker.examples.forking:ForkingAdapter";
  /** Shim, Python, and spawn_tree's three sleepers. */
  private static final int PER_WORKER = 5;
  private static final Duration POLL = Duration.ofMillis(1);
  private static final Duration GIVE_UP = Duration.ofSeconds(30);
  /** What the snakepit launcher gives a node's JVM where the kernel offers transparent huge pages. */
  private static final String LAUNCHER_OPTION = "-XX:+UseTransparentHugePages";
  private static final Path THP_MODE = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Integer> sizes = c.quick() ? List.of(1, 4) : List.of(1, 10, 100);
    List<String> jvmOptions = launcherOptions(c);
    List<Measurement> out = new ArrayList<>();
    for (int n : sizes) {
      List<Double> millis = new ArrayList<>();
      Set<Integer> counts = new TreeSet<>();
      List<Double> residentMiB = new ArrayList<>();
      for (int run = 0; run < c.runs(); run++) {
        Sample s = killOnce(c, n, jvmOptions);
        millis.add(s.millis);
        counts.add(s.processes);
        residentMiB.add(s.residentMiB);
      }
      Goal goal = n == 100 ? Goal.atMost(250, "<= 250 ms") : Goal.none();
      String note = "processes per run (shims, Pythons, spawn_tree's sleepers): " + join(counts) + "; /proc polled"
          + " every " + POLL.toMillis() + " ms; node JVM options as the snakepit launcher's: "
          + (jvmOptions.isEmpty() ? "none" : String.join(" ", jvmOptions)) + ", its RSS at the kill "
          + Math.round(residentMiB.stream().mapToDouble(Double::doubleValue).max().orElse(0)) + " MiB at most"
          + (n == 100 ? "; where the time goes: docs/PERFORMANCE.md, Kill" : "");
      out.add(new Measurement("kill.n" + n, "Kill", "kill -9 of the JVM until the trees of " + n
          + (n == 1 ? " worker are" : " workers are") + " gone", "ms", new Series("snakepit, process mode", millis),
          null, goal, note));
    }
    return out;
  }

  private record Sample(double millis, int processes, double residentMiB) {}

  /**
   * The JVM options the launcher gives a node on this host: the teardown of the killed JVM's memory comes before its
   * workers learn of its end, so the node measured here must run as a deployed one does. Fails if the launcher no
   * longer sets them, so that the two cannot drift apart.
   */
  private static List<String> launcherOptions(Context c) throws IOException {
    Path launcher = c.root().resolve("snakepit");
    if (!Files.readString(launcher).contains(LAUNCHER_OPTION)) {
      throw new IllegalStateException("the launcher " + launcher + " no longer sets " + LAUNCHER_OPTION
          + ": make the kill benchmark's node JVM (KillBench.LAUNCHER_OPTION) match what it sets");
    }
    String mode = Files.isReadable(THP_MODE) ? Files.readString(THP_MODE) : "";
    return mode.contains("[always]") || mode.contains("[madvise]") ? List.of(LAUNCHER_OPTION) : List.of();
  }

  /** Starts a node of n workers in a JVM of its own, grows a tree per worker, kills the JVM and times the end. */
  private static Sample killOnce(Context c, int n, List<String> jvmOptions) throws Exception {
    String instance = c.freshInstance("bench");
    // 100 workers starting at once on two cores take far longer than one, and so do their 100 journal writes (each
    // durable) when the machine is busy: generous timeouts for both.
    String config = ConfigFactory.parseString("snakepit.pools { default = null, p { workers = " + n
            + ", adapter = \"" + ADAPTER + "\", start-timeout = 10m } }\nsnakepit.registry.ask-timeout = 2m")
        .withFallback(Node.settings(c, instance)).root().render(ConfigRenderOptions.concise());
    Path stderr = Files.createTempFile(c.scratch(), "kill-node", ".stderr");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), NodeMain.class.getName(), config, "p",
        "spawn_tree", Integer.toString(n)));
    Process jvm = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
    List<ProcessTree.Proc> tree = List.of();
    try {
      List<String> lines = awaitReady(jvm, stderr, Duration.ofMinutes(10));
      Set<String> workers = new HashSet<>();
      for (String line : lines) {
        if (line.startsWith("called ")) {
          workers.add(line.replaceAll(".*\"worker\": (\\d+).*", "$1"));
        }
      }
      if (workers.size() != n) {
        throw new IllegalStateException("expected spawn_tree on each of " + n + " workers, it reached "
            + workers.size() + ": " + lines);
      }
      tree = ProcessTree.descendants(jvm.pid());
      if (tree.size() < n * PER_WORKER) {
        throw new IllegalStateException("expected at least " + n * PER_WORKER + " processes under the node's JVM "
            + jvm.pid() + ", found " + tree.size() + ": " + tree);
      }
      double residentMiB = ProcessTree.residentKiB((int) jvm.pid()) / 1024;
      long killed = System.nanoTime();
      jvm.destroyForcibly(); // SIGKILL
      List<ProcessTree.Proc> left = ProcessTree.awaitGone(tree, POLL, GIVE_UP);
      long elapsed = System.nanoTime() - killed;
      if (!left.isEmpty()) {
        throw new IllegalStateException(left.size() + " processes of " + n + " worker trees still ran "
            + GIVE_UP.toSeconds() + " s after kill -9 of their JVM: " + left);
      }
      return new Sample(elapsed / 1e6, tree.size(), residentMiB);
    } finally {
      if (jvm.isAlive()) {
        jvm.destroyForcibly();
      }
      jvm.waitFor(30, TimeUnit.SECONDS);
      // Only after a failure is anything left; the suite's leak check reports it as well.
      ProcessTree.kill(tree);
    }
  }

  /** Reads the node's stdout up to its ready line; fails with its stderr if it ends or takes longer than limit. */
  private static List<String> awaitReady(Process jvm, Path stderr, Duration limit) throws Exception {
    CompletableFuture<List<String>> read = CompletableFuture.supplyAsync(() -> {
      List<String> lines = new ArrayList<>();
      try {
        BufferedReader out = new BufferedReader(new InputStreamReader(jvm.getInputStream(), StandardCharsets.UTF_8));
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          lines.add(line);
          if (line.startsWith("ready ")) {
            return lines;
          }
        }
      } catch (IOException e) {
        lines.add("(stdout failed: " + e.getMessage() + ")");
      }
      return null;
    });
    List<String> lines;
    try {
      lines = read.get(limit.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      jvm.destroyForcibly();
      throw new IllegalStateException("the node JVM " + jvm.pid() + " was not ready after " + limit.toMinutes()
          + " min; its stderr: " + tail(stderr));
    }
    if (lines == null) {
      throw new IllegalStateException("the node JVM " + jvm.pid() + " ended before it was ready; its stderr: "
          + tail(stderr));
    }
    return lines;
  }

  private static String tail(Path file) throws IOException {
    String text = Files.readString(file);
    return text.length() > 4000 ? "..." + text.substring(text.length() - 4000) : text;
  }

  private static String join(Set<Integer> counts) {
    return counts.stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElse("none");
  }
}
