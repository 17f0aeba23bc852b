package io.snakepit.cli;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.MetadataUtils;
import io.snakepit.testing.Commands;
import io.snakepit.testing.Procs;
import io.snakepit.testing.ReadyLine;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Nodes started as separate JVMs from the built snakepit.jar, as a user would run them. */
final class Nodes {
  private static final Duration READY_LIMIT = Duration.ofSeconds(120);

  private Nodes() {}

  /** A running {@code snakepit serve}. */
  static final class Node implements AutoCloseable {
    final Process process;
    final int port;
    final Path stderr;
    String readyLine;
    String settledLine;
    /** The line saying where the HTTP endpoint listens, if it printed one. */
    String httpLine;
    /** Every line it printed on stdout so far, the ones after its ready line too. */
    final List<String> stdout = new java.util.concurrent.CopyOnWriteArrayList<>();
    Path dataDir;

    Node(Process process, int port, Path stderr) {
      this.process = process;
      this.port = port;
      this.stderr = stderr;
    }

    int pid() {
      return (int) process.pid();
    }

    /** The gateway's token file, as the ready line names it. */
    Path tokenFile() {
      int at = readyLine.lastIndexOf(", token in ");
      if (at < 0) {
        throw new AssertionError("the ready line names no token file: " + readyLine);
      }
      String rest = readyLine.substring(at + ", token in ".length());
      int cluster = rest.indexOf(", cluster ");
      return Path.of(cluster < 0 ? rest : rest.substring(0, cluster));
    }

    /** A channel to the gateway on 127.0.0.1 that sends the node's token with every call. */
    ManagedChannel channel() throws IOException {
      return channelBuilder().build();
    }

    /** What {@link #channel()} builds, for further settings. */
    io.grpc.ManagedChannelBuilder<?> channelBuilder() throws IOException {
      return Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
          .intercept(MetadataUtils.newAttachHeadersInterceptor(GatewayAuth.header(GatewayToken.read(tokenFile()))));
    }

    /**
     * What the node wrote on stderr so far. It goes to a file: a pipe read by a thread loses what the JDK drains
     * from it when the process exits.
     */
    List<String> stderr() throws IOException {
      return Files.readAllLines(stderr);
    }

    @Override
    public void close() throws Exception {
      Commands.stop(process);
    }
  }

  static Path jar() {
    return Path.of(System.getProperty("snakepit.test.jar"));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static List<String> java(String... args) {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dsnakepit.instance=" + TestNodes.INSTANCE,
        "-Dsnakepit.pool-defaults.python=" + TestNodes.python()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** What a finished {@code snakepit} command printed, trimmed, and its exit status. */
  record Run(int exit, String out, String err) {}

  /** Runs {@code snakepit args...} from the jar to its end; stdout and stderr are kept apart. */
  static Run snakepit(String... args) throws Exception {
    return snakepit(Map.of(), args);
  }

  /** As {@link #snakepit(String...)}, with {@code env} added to the command's environment. */
  static Run snakepit(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = java("-jar", jar().toString());
    cmd.addAll(List.of(args));
    return run(cmd, env, String.join(" ", args));
  }

  /** Runs {@code cmd} to its end (at most 120 s); stdout and stderr are kept apart. */
  static Run run(List<String> cmd, Map<String, String> env, String what) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().remove(GatewayClient.TOKEN_VARIABLE);
    pb.environment().putAll(env);
    Commands.Result r = Commands.run(pb, Duration.ofSeconds(120), what);
    return new Run(r.exit(), r.out().trim(), r.err().trim());
  }

  /** Starts {@code snakepit serve} with {@code args} and waits for its {@code ready:} line. */
  static Node serve(String... args) throws Exception {
    return serveIn(Files.createTempDirectory("snakepit-data"), args);
  }

  /** As {@link #serve}, with the node's state in {@code dataDir}. */
  static Node serveIn(Path dataDir, String... args) throws Exception {
    return serveIn(dataDir, List.of(), args);
  }

  /** As {@link #serve}, with the node's state in {@code dataDir} and {@code jvmOptions} (-Dsnakepit... settings). */
  static Node serveIn(Path dataDir, List<String> jvmOptions, String... args) throws Exception {
    int port = freePort();
    List<String> more = new ArrayList<>(List.of("--listen", "127.0.0.1:" + port));
    more.addAll(List.of(args));
    return serveOn(dataDir, jvmOptions, port, more.toArray(String[]::new));
  }

  /** As {@link #serveIn}, with the {@code --listen} flags in {@code args}; {@code port} is the TCP one they name. */
  static Node serveOn(Path dataDir, int port, String... args) throws Exception {
    return serveOn(dataDir, List.of(), port, args);
  }

  /** As {@link #serveOn(Path, int, String...)}, with {@code jvmOptions} (-Dsnakepit... settings). */
  static Node serveOn(Path dataDir, List<String> jvmOptions, int port, String... args) throws Exception {
    return serveFrom(null, dataDir, jvmOptions, port, args);
  }

  /** As {@link #serveOn(Path, List, int, String...)}, run in {@code workDir} (null: this JVM's). */
  static Node serveFrom(Path workDir, Path dataDir, List<String> jvmOptions, int port, String... args)
      throws Exception {
    List<String> cmd = java(jvmOptions.toArray(String[]::new));
    cmd.addAll(List.of("-jar", jar().toString(), "serve", "--data-dir", dataDir.toString()));
    if (!List.of(args).contains("--http")) {
      // Not the default port: test nodes run side by side.
      cmd.addAll(List.of("--http", "127.0.0.1:0"));
    }
    cmd.addAll(List.of(args));
    Path stderr = Files.createTempFile("snakepit-serve", ".stderr");
    Process p = new ProcessBuilder(cmd).directory(workDir == null ? null : workDir.toFile())
        .redirectError(stderr.toFile()).start();
    Node node = new Node(p, port, stderr);
    node.dataDir = dataDir;
    ReadyLine.Outcome outcome = ReadyLine.await(p, "ready:", READY_LIMIT, line -> {
      node.stdout.add(line);
      if (line.startsWith("settled:")) {
        node.settledLine = line;
      }
      if (line.startsWith("ready:")) {
        node.readyLine = line;
      }
      if (line.startsWith("http:")) {
        node.httpLine = line;
      }
    }, node.stdout::add);
    if (outcome == ReadyLine.Outcome.READY) {
      return node;
    }
    node.close();
    throw new AssertionError("snakepit serve " + (outcome == ReadyLine.Outcome.TIMED_OUT
        ? "printed no ready: line within " + READY_LIMIT.toSeconds() + " s (stopped)"
        : "ended without a ready: line") + "; its stderr:\n" + String.join("\n", node.stderr()));
  }

  /** Every live process of the node's tree: the JVM's descendants (shims, workers and what they forked). */
  static List<Procs.Proc> tree(Node node) {
    return Procs.descendants(node.pid());
  }
}
