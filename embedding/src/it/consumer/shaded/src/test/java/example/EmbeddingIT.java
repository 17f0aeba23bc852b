package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the consumer application as separate JVMs, as its users would: from its plain classpath (a plain dependency
 * on snakepit-actors) and as shaded jars (the BOM imported), through snapshots, clean restarts and a kill -9.
 */
class EmbeddingIT {
  private static final Path SHADED = Path.of("").toAbsolutePath();
  private static final Path APP = SHADED.resolveSibling("app");
  private static final AtomicInteger RUNS = new AtomicInteger();

  @TempDir
  Path data;
  private final String instance = "consumer-it-" + ProcessHandle.current().pid() + "-" + RUNS.incrementAndGet();
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void nothingOfThisInstanceIsLeft() throws Exception {
    started.forEach(Process::destroyForcibly);
    assertTrue(waitUntil(() -> markedProcesses().isEmpty(), 15), () -> "still alive: " + markedProcesses());
  }

  @Test
  void plainClasspathAppWritesAndReadsSnapshotsAcrossRestarts() throws Exception {
    List<String> first = quietRun(plain("run", 12));
    assertTrue(snapshots() > 0, "run 1 wrote no snapshot: the test would not prove that snapshots load");
    for (int restart = 0; restart < 2; restart++) {
      List<String> again = quietRun(plain("run", 12));
      assertTrue(again.stream().anyMatch(l -> l.contains("settled: 0 entries")), again::toString);
    }
    assertTrue(first.contains("jackson-databind " + System.getProperty("expected.jackson")), first::toString);
  }

  @Test
  void appKilledWithSignal9LeavesNoWorkerAndTheNextStartSettlesItsEntries() throws Exception {
    Path out = data.resolve("hold.out");
    Process held = start(plain("hold", 4), out);
    assertTrue(waitUntil(() -> read(out).contains("holding"), 120), () -> "never held: " + read(out));
    List<Long> workers = markedProcesses();
    assertTrue(workers.size() >= 2, () -> "expected the 2 workers' processes, found " + workers);
    held.destroyForcibly(); // SIGKILL: no shutdown hook, no coordinated shutdown
    assertTrue(held.waitFor(30, TimeUnit.SECONDS));
    assertTrue(waitUntil(() -> markedProcesses().isEmpty(), 10), () -> "outlived the JVM: " + markedProcesses());
    List<String> next = quietRun(plain("run", 4));
    assertTrue(next.stream().anyMatch(l -> l.contains("settled: 2 entries")), next::toString);
  }

  @Test
  void shadedJarBuiltAsDocumentedRunsQuietlyAcrossRestarts() throws Exception {
    for (int run = 0; run < 2; run++) {
      List<String> lines = quietRun(shaded("consumer-shaded.jar", "run", 12));
      assertTrue(lines.contains("jackson-databind " + System.getProperty("expected.jackson")), lines::toString);
      assertTrue(lines.contains("akka " + System.getProperty("expected.akka")), lines::toString);
    }
    assertTrue(snapshots() > 0, "no snapshot was written");
  }

  @Test
  void shadedJarWithAkkasRecipeAloneStillCallsAndSaysWhatToFix() throws Exception {
    Run run = run(shaded("consumer-akka-recipe.jar", "run", 6));
    assertEquals(0, run.exit(), run.lines()::toString);
    assertTrue(run.lines().contains("calls: 6 of 6 ok"), run.lines()::toString);
    assertTrue(run.lines().stream().anyMatch(l -> l.startsWith("WARN") && l.contains("ServicesResourceTransformer")),
        run.lines()::toString);
  }

  /** Runs the application to its end; it must succeed with every call and log no warning, error or dead letter. */
  private List<String> quietRun(List<String> command) throws Exception {
    Run run = run(command);
    List<String> lines = run.lines();
    assertEquals(0, run.exit(), lines::toString);
    assertTrue(lines.stream().anyMatch(l -> l.matches("calls: (\\d+) of \\1 ok")), lines::toString);
    assertTrue(lines.contains("typed: Total[total=22, lines=2]"), lines::toString);
    for (String line : lines) {
      assertFalse(line.startsWith("WARN") || line.startsWith("ERROR") || line.startsWith("SLF4J(W)")
          || line.contains("dead letter") || line.contains("was not delivered"), () -> "noise: " + line + "\n" + lines);
    }
    return lines;
  }

  private List<String> plain(String mode, int calls) throws IOException {
    String deps = Files.readString(APP.resolve("target/classpath.txt")).trim();
    return List.of(java(), "-cp", APP.resolve("target/classes") + ":" + deps, "example.ConsumerApp", mode,
        Integer.toString(calls));
  }

  private List<String> shaded(String jar, String mode, int calls) {
    return List.of(java(), "-jar", SHADED.resolve("target").resolve(jar).toString(), mode, Integer.toString(calls));
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private record Run(int exit, List<String> lines) {}

  private Run run(List<String> command) throws Exception {
    Path out = data.resolve("run-" + RUNS.incrementAndGet() + ".out");
    Process p = start(command, out);
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("did not end within 180 s: " + command + "\n" + read(out));
    }
    return new Run(p.exitValue(), Arrays.asList(read(out).split("\n")));
  }

  private Process start(List<String> command, Path out) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().put("CONSUMER_INSTANCE", instance);
    pb.environment().put("CONSUMER_DATA", data.resolve("data").toString());
    pb.environment().put("CONSUMER_PYTHON", System.getProperty("consumer.python"));
    pb.environment().put("CONSUMER_ADAPTERS", APP.resolve("src/main/python").toString());
    Process p = pb.start();
    started.add(p);
    return p;
  }

  /** The snapshots in the application's journal, read with the H2 driver from its own classpath. */
  private long snapshots() throws Exception {
    String h2 = Arrays.stream(Files.readString(APP.resolve("target/classpath.txt")).trim().split(":"))
        .filter(j -> j.contains("/com/h2database/")).findFirst().orElseThrow();
    try (URLClassLoader loader = new URLClassLoader(new URL[] {Path.of(h2).toUri().toURL()})) {
      Driver driver = (Driver) loader.loadClass("org.h2.Driver").getDeclaredConstructor().newInstance();
      Properties user = new Properties();
      user.setProperty("user", "SA");
      user.setProperty("password", "");
      String url = "jdbc:h2:" + data.resolve("data").resolve("registry-" + instance) + ";IFEXISTS=TRUE";
      try (Connection c = driver.connect(url, user); ResultSet rs = c.createStatement()
          .executeQuery("SELECT COUNT(*) FROM \"snapshot\"")) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  /** Live processes whose environment carries this test's instance marker (the workers, their shims). */
  private List<Long> markedProcesses() {
    byte[] marker = ("SNAKEPIT_INSTANCE=" + instance + "\0").getBytes(StandardCharsets.UTF_8);
    List<Long> found = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
        try {
          if (contains(Files.readAllBytes(p.resolve("environ")), marker)) {
            found.add(Long.parseLong(p.getFileName().toString()));
          }
        } catch (IOException gone) {
          // Ended while we looked, or not ours to read.
        }
      }
    } catch (IOException e) {
      throw new AssertionError("cannot list /proc", e);
    }
    return found;
  }

  private static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      if (i > 0 && haystack[i - 1] != 0) {
        continue;
      }
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (IOException e) {
      return "";
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  private static boolean waitUntil(Check check, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (check.holds()) {
        return true;
      }
      Thread.sleep(100);
    }
    return check.holds();
  }
}
