package io.snakepit.bench;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.snakepit.Pool;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Gateway: a client JVM (this one) calling {@code ping} through a node's gateway ({@code snakepit serve}, the
 * project's jar, in a JVM of its own, 2 workers) against the in-process pool of this JVM with 2 workers of its own, at
 * the same concurrency, the two taking turns window by window (gateway, pool, pool, gateway, ...). The node's CPU per
 * call comes from its /proc stat over each gateway window, its C2 compiler thread's share from /proc/PID/task; the
 * client's (this JVM's) from /proc/self/stat over the same windows.
 */
final class GatewayBench implements Bench {
  static final int WORKERS = 2;
  /** The concurrencies measured: a saturating closed loop (as {@code snakepit load --concurrency 8}), and one call. */
  static final int[] CONCURRENCIES = {8, 1};
  /** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux the project runs on). */
  private static final double TICKS_PER_SECOND = 100;
  // A clustered node's line ends with ", cluster NAME@HOST:PORT (N members)" after the token file.
  static final Pattern READY =
      Pattern.compile("^ready: .* gateway on (\\S+):(\\d+),.* token in (\\S+?)(?:, cluster .*)?$");
  private static final String GATEWAY = "gateway: client JVM -> serve -> workers";
  private static final String POOL = "in-process pool, same concurrency";

  /** One window of calls and what the node's JVM spent over it. */
  private record Window(ClosedLoop.Window calls, double nodeCpuMicros, double nodeC2Micros, double selfCpuMicros) {}

  @Override
  public List<Measurement> run(Context c) throws Exception {
    Path jar = c.nodeJar("gateway");
    double window = c.quick() ? 0.5 : 5;
    double warmup = c.quick() ? 1 : 10;
    List<Measurement> out = new ArrayList<>();
    try (Served node = Served.start(c, jar); Node local = Node.start(c, "p { workers = " + WORKERS + " }")) {
      local.awaitReady();
      Pool pool = local.snakepit.pool("p");
      ExecuteRequest ping = ExecuteRequest.newBuilder().setTool("ping").setArgsJson("{}").build();
      GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(node.channel);
      ClosedLoop.Call viaGateway = () -> {
        ExecuteResponse r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).execute(ping);
        if (!r.hasValue()) {
          throw new IllegalStateException("ping through the gateway answered " + r);
        }
      };
      ClosedLoop.Call inProcess = () -> pool.execute("ping", "{}").toCompletableFuture().get(60, TimeUnit.SECONDS)
          .json();
      for (int concurrency : CONCURRENCIES) {
        // Warm-up: both sides, in turns, so that both JVMs have compiled their paths before anything counts.
        for (int i = 0; i < 2; i++) {
          ClosedLoop.run(concurrency, warmup / 2, viaGateway);
          ClosedLoop.run(concurrency, warmup / 2, inProcess);
        }
        List<Window> gateway = new ArrayList<>();
        List<Window> inPool = new ArrayList<>();
        for (int run = 0; run < c.runs(); run++) {
          if (run % 2 == 0) {
            gateway.add(measure(node.pid, concurrency, window, viaGateway));
            inPool.add(measure(node.pid, concurrency, window, inProcess));
          } else {
            inPool.add(measure(node.pid, concurrency, window, inProcess));
            gateway.add(measure(node.pid, concurrency, window, viaGateway));
          }
        }
        out.addAll(measurements(concurrency, gateway, inPool, c2Seconds(node.pid)));
      }
    }
    return out;
  }

  private static Window measure(long nodePid, int concurrency, double seconds, ClosedLoop.Call call)
      throws Exception {
    double cpu0 = cpuTicks(Path.of("/proc", Long.toString(nodePid), "stat"));
    double c20 = c2Ticks(nodePid);
    double self0 = cpuTicks(Path.of("/proc/self/stat"));
    ClosedLoop.Window w = ClosedLoop.run(concurrency, seconds, call);
    double perCall = 1e6 / TICKS_PER_SECOND / Math.max(1, w.calls());
    return new Window(w, (cpuTicks(Path.of("/proc", Long.toString(nodePid), "stat")) - cpu0) * perCall,
        (c2Ticks(nodePid) - c20) * perCall, (cpuTicks(Path.of("/proc/self/stat")) - self0) * perCall);
  }

  private static List<Measurement> measurements(int concurrency, List<Window> gateway, List<Window> pool,
      double c2Seconds) {
    String setup = WORKERS + " workers on each side, ping, closed loop of " + concurrency + " caller thread"
        + (concurrency == 1 ? "" : "s") + " (each waits for its call before the next). The gateway side is this JVM"
        + " calling a node started from cli/target/snakepit.jar (serve --workers " + WORKERS + ") over TCP on"
        + " loopback with its token; the pool side is a pool in this JVM. They take turns window by window (gateway,"
        + " pool, pool, gateway, ...) after a warm-up of both";
    String id = "gateway.c" + concurrency;
    List<Measurement> out = new ArrayList<>();
    out.add(new Measurement(id + ".throughput", "Gateway", "ping through the gateway, concurrency " + concurrency,
        "calls/s", new Series(GATEWAY, each(gateway, w -> w.calls().callsPerSecond())),
        new Series(POOL, each(pool, w -> w.calls().callsPerSecond())),
        Goal.ratioAtLeast(0.8, ">= 0.8x the in-process pool"), setup + "."));
    out.add(new Measurement(id + ".p50", "Gateway", "p50 of a call, concurrency " + concurrency, "µs",
        new Series(GATEWAY, each(gateway, w -> w.calls().micros(50))),
        new Series(POOL, each(pool, w -> w.calls().micros(50))), Goal.none(), "Windows as in the throughput at"
        + " concurrency " + concurrency + "."));
    out.add(new Measurement(id + ".cpu", "Gateway CPU", "node CPU per call, concurrency " + concurrency, "µs",
        new Series("the node's JVM (serve), all threads", each(gateway, Window::nodeCpuMicros)),
        new Series("in-process: this JVM, its caller threads included", each(pool, Window::selfCpuMicros)),
        Goal.none(), "utime + stime of the node's JVM (/proc/PID/stat) over each gateway window, divided by the"
        + " calls of that window; the baseline is this JVM's own over each pool window. On 2 cores the node's CPU"
        + " is taken from the Python workers."));
    out.add(new Measurement(id + ".client", "Gateway CPU", "client CPU per call, concurrency " + concurrency, "µs",
        new Series("the client JVM (this one), its caller threads included", each(gateway, Window::selfCpuMicros)),
        null, Goal.none(), "utime + stime of this JVM (/proc/self/stat) over each gateway window, divided by the calls"
        + " of that window: what the client costs, which on 2 cores is taken from the node and its workers. This JVM"
        + " also holds the in-process side's node, idle during these windows."));
    out.add(new Measurement(id + ".c2", "Gateway CPU", "of which the C2 compiler, concurrency " + concurrency, "µs",
        new Series("the node's C2 compiler threads", each(gateway, Window::nodeC2Micros)), null, Goal.none(),
        "The node's C2 compiler threads (/proc/PID/task/*/stat) over each gateway window, per call. By"
        + " the end of these windows they had used " + String.format(Locale.ROOT, "%.1f", c2Seconds)
        + " s of CPU since the node started."));
    return out;
  }

  private static List<Double> each(List<Window> windows, ToDoubleFunction<Window> value) {
    return windows.stream().map(value::applyAsDouble).toList();
  }

  /** utime + stime of a /proc stat file, in clock ticks. */
  static double cpuTicks(Path stat) throws IOException {
    String s = Files.readString(stat);
    String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
    return Double.parseDouble(f[11]) + Double.parseDouble(f[12]);
  }

  /** CPU of a JVM's C2 compiler threads, in clock ticks (threads that ended since are not counted). */
  static double c2Ticks(long pid) throws IOException {
    double sum = 0;
    try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks.toList()) {
        try {
          if (Files.readString(task.resolve("comm")).startsWith("C2 CompilerThre")) {
            sum += cpuTicks(task.resolve("stat"));
          }
        } catch (IOException gone) {
          // The thread ended between the listing and the read.
        }
      }
    }
    return sum;
  }

  private static double c2Seconds(long pid) throws IOException {
    return c2Ticks(pid) / TICKS_PER_SECOND;
  }

  /** A plaintext channel to a node's gateway that carries the token of {@code tokenFile} (as its ready line names). */
  static ManagedChannel channel(String host, int port, Path tokenFile) throws IOException {
    String token = Files.readString(tokenFile).trim();
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return NettyChannelBuilder.forAddress(host, port).usePlaintext()
        .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build();
  }

  /** A node serving its gateway on loopback, in a JVM of its own, and a channel to it carrying its token. */
  private static final class Served implements AutoCloseable {
    final Process jvm;
    final long pid;
    final ManagedChannel channel;

    private Served(Process jvm, ManagedChannel channel) {
      this.jvm = jvm;
      this.pid = jvm.pid();
      this.channel = channel;
    }

    static Served start(Context c, Path jar) throws Exception {
      String instance = c.freshInstance("bench");
      Path data = Files.createDirectories(c.scratch().resolve("gateway-" + instance));
      Path log = c.scratch().resolve("gateway-" + instance + ".log");
      Process jvm = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-jar", jar.toString(), "serve", "--workers", Integer.toString(WORKERS), "--python", c.python(),
          "--data-dir", data.toString(), "--instance", instance, "--listen", "127.0.0.1:0")
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        Matcher ready = awaitReady(jvm, log, Duration.ofMinutes(2));
        return new Served(jvm, channel(ready.group(1), Integer.parseInt(ready.group(2)), Path.of(ready.group(3))));
      } catch (Exception | Error e) {
        stop(jvm);
        throw e;
      }
    }

    /** The node's ready line, once it printed it; fails with its log if it ends or takes longer than limit. */
    private static Matcher awaitReady(Process jvm, Path log, Duration limit) throws Exception {
      long deadline = System.nanoTime() + limit.toNanos();
      while (System.nanoTime() < deadline) {
        for (String line : Files.readAllLines(log)) {
          Matcher m = READY.matcher(line);
          if (m.matches()) {
            return m;
          }
        }
        if (!jvm.isAlive()) {
          throw new IllegalStateException("the gateway's node exited with status " + jvm.exitValue()
              + " before it was ready: " + Files.readString(log));
        }
        Thread.sleep(50);
      }
      throw new IllegalStateException("the gateway's node was not ready within " + limit + ": " + Files.readString(log));
    }

    /** SIGTERM, as a service manager stops a node, then SIGKILL if it is still there after a minute. */
    private static void stop(Process jvm) throws InterruptedException {
      jvm.destroy();
      if (!jvm.waitFor(60, TimeUnit.SECONDS)) {
        jvm.destroyForcibly();
        jvm.waitFor(30, TimeUnit.SECONDS);
      }
    }

    @Override
    public void close() throws Exception {
      channel.shutdownNow();
      channel.awaitTermination(10, TimeUnit.SECONDS);
      stop(jvm);
    }
  }
}
