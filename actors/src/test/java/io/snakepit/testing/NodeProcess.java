package io.snakepit.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link NodeMain} in a JVM of its own, with the lines it printed. */
public final class NodeProcess implements AutoCloseable {
  public final Process process;
  public final List<String> lines = new ArrayList<>();
  private final Path stderr;
  private static final int START_LIMIT_SECONDS = 120;

  private NodeProcess(Process process, Path stderr) {
    this.process = process;
    this.stderr = stderr;
  }

  /**
   * Starts a node and reads its output up to its {@code ready} line (or its end, if it halts first).
   *
   * @param jvmOptions extra JVM options, e.g. a fault-injection property
   * @param args NodeMain's arguments
   */
  public static NodeProcess start(List<String> jvmOptions, String... args) throws IOException {
    return start(java.util.Map.of(), jvmOptions, args);
  }

  /** {@link #start(List, String...)} with {@code env} added to the node JVM's environment. */
  public static NodeProcess start(java.util.Map<String, String> env, List<String> jvmOptions, String... args)
      throws IOException {
    return startIn(null, env, jvmOptions, args);
  }

  /**
   * {@link #start(java.util.Map, List, String...)} with the node JVM (and so its workers) in the working directory
   * {@code dir}; null: this JVM's.
   */
  public static NodeProcess startIn(Path dir, java.util.Map<String, String> env, List<String> jvmOptions,
      String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "-Dsnakepit.test.instance=" + TestNodes.INSTANCE,
        "-Dsnakepit.test.python=" + TestNodes.python()));
    cmd.addAll(jvmOptions);
    cmd.add(NodeMain.class.getName());
    cmd.addAll(List.of(args));
    Path stderr = Files.createTempFile("node", ".stderr");
    ProcessBuilder builder = new ProcessBuilder(cmd).redirectError(stderr.toFile());
    if (dir != null) {
      builder.directory(dir.toFile());
    }
    builder.environment().putAll(env);
    Process p = builder.start();
    NodeProcess node = new NodeProcess(p, stderr);
    try {
      ReadyLine.Outcome outcome = ReadyLine.await(p, "ready ", Duration.ofSeconds(START_LIMIT_SECONDS),
          node.lines::add);
      if (outcome == ReadyLine.Outcome.TIMED_OUT) {
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
        node.lines.add("(no ready line within " + START_LIMIT_SECONDS + " s: node killed)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
    return node;
  }

  /** Whether the node printed its ready line. */
  public boolean ready() {
    return !lines.isEmpty() && lines.get(lines.size() - 1).startsWith("ready ");
  }

  /** The lines that start with {@code prefix}, without it. */
  public List<String> linesStartingWith(String prefix) {
    return lines.stream().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length())).toList();
  }

  public int pid() {
    return (int) process.pid();
  }

  /** What the node wrote on stderr. */
  public String stderr() throws IOException {
    return Files.readString(stderr);
  }

  /** Waits for the JVM to end (after a kill or a halt). */
  public int awaitExit() throws InterruptedException {
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      throw new AssertionError("node " + pid() + " did not end");
    }
    return process.exitValue();
  }

  @Override
  public void close() throws Exception {
    Commands.stop(process);
  }

  /**
   * Starts a node with {@code overrides} that has each of its workers fork a tree ({@code spawn_tree} of the forking
   * example adapter, which the overrides must configure), then freezes the JVM so it cannot react, kills its shims and
   * then the JVM: nothing is left to take the trees down. Returns the processes that survived.
   */
  public static List<Procs.Proc> orphansOfAKilledNode(String overrides, int workers) throws Exception {
    try (NodeProcess node = start(List.of(), overrides, "spawn_tree", Integer.toString(workers))) {
      if (!node.ready()) {
        throw new AssertionError("the node did not start: " + node.lines + node.stderr());
      }
      List<Procs.Proc> tree = Procs.descendants(node.pid());
      List<Integer> shims = tree.stream().filter(p -> Procs.cmdline(p.pid()).contains("snakepit-shim"))
          .map(Procs.Proc::pid).toList();
      if (shims.size() != workers) {
        throw new AssertionError("expected " + workers + " shims, found " + tree);
      }
      Procs.kill(node.pid(), 19);
      for (int shim : shims) {
        Procs.kill(shim, 9);
      }
      Procs.kill(node.pid(), 9);
      node.awaitExit();
      Thread.sleep(300);
      return tree.stream().filter(Procs.Proc::alive).toList();
    }
  }
}
