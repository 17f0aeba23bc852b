package io.snakepit.bench;

import com.typesafe.config.ConfigFactory;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.snakepit.Pool;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.infra.ThreadParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * The JMH benchmark behind {@link DispatchBench}: one call of the trivial tool {@code ping}, through a snakepit pool or
 * straight through a bare client of the same workers' calls sockets ({@link RawCallSocket}). The two sides take turns by iteration in one
 * fork, in the order pool, raw, raw, pool, ... ({@link #poolsTurn}), so that both meet the same JVM, the same workers
 * and the same moment of the machine, and drift cancels out. Each JMH thread makes one call and waits for it, so the
 * number of threads is the in-flight bound of both sides. Runs in a JVM that JMH forks; {@link DispatchBench} passes
 * what it needs as system properties.
 */
public class DispatchCalls {

  /** The instance name's prefix; the fork adds its pid. Starts with bench-PID- of the suite's JVM (leak check). */
  static final String INSTANCE = "snakepit.bench.instance";
  /** The suite's scratch directory (the node's data directory goes there). */
  static final String SCRATCH = "snakepit.bench.scratch";
  /** A short directory under which this fork's node makes its run directory (socket paths are limited in length). */
  static final String RUN_BASE = "snakepit.bench.run-base";

  @Benchmark
  public String ping(Workers w, Caller me) throws Exception {
    return w.poolsTurn ? w.pool.execute("ping", "{}").toCompletableFuture().get().json()
        : w.rawPing(me.nextWorker(w.sockets.size())).get();
  }

  /** Whether the i-th iteration (counted apart for warm-up and measurement) is the pool's: A B B A A B B A ... */
  static boolean poolsTurn(int i) {
    return i % 4 == 0 || i % 4 == 3;
  }

  /**
   * Where one JMH thread sends its raw calls: thread t's k-th call goes to worker (t + k * threads) mod N, the order in
   * which a round robin would deal the calls of threads going in lockstep. With several threads each worker carries
   * the same share of the in-flight calls at every moment, as the pool keeps it; one thread alternates.
   */
  @State(Scope.Thread)
  public static class Caller {
    private int thread;
    private int threads;
    private long calls;

    @Setup(Level.Trial)
    public void place(ThreadParams params) {
      thread = params.getThreadIndex();
      threads = params.getThreadCount();
    }

    int nextWorker(int workers) {
      return (int) ((thread + calls++ * threads) % workers);
    }
  }

  /** One node with {@link DispatchBench#WORKERS} workers, and connections of this JVM's own to their calls sockets. */
  @State(Scope.Benchmark)
  public static class Workers {
    Node node;
    Pool pool;
    private EpollEventLoopGroup events;
    private final List<RawCallSocket> sockets = new ArrayList<>();
    private final com.google.protobuf.ByteString ping =
        ExecuteRequest.newBuilder().setTool("ping").setArgsJson("{}").build().toByteString();
    private int warmups;
    private int measured;
    volatile boolean poolsTurn;

    @Setup(Level.Trial)
    public void start() throws Exception {
      Path runDir = Files.createDirectories(Path.of(System.getProperty(RUN_BASE))
          .resolve(Long.toString(ProcessHandle.current().pid())));
      // Read by ConfigFactory.load when Node.start builds the node's settings: the sockets land where we look.
      System.setProperty("snakepit.run-dir", runDir.toString());
      ConfigFactory.invalidateCaches();
      Context c = new Context(false, 0, System.getProperty("snakepit.python"),
          Path.of(System.getProperty("snakepit.root")), Path.of(System.getProperty(SCRATCH)));
      node = Node.start(c, System.getProperty(INSTANCE) + "-" + ProcessHandle.current().pid(), "p { workers = "
          + DispatchBench.WORKERS + ", concurrency = " + DispatchBench.CONCURRENCY + " }");
      node.awaitReady();
      pool = node.snakepit.pool("p");
      List<Path> found;
      try (Stream<Path> files = Files.walk(runDir)) {
        found = files.filter(p -> p.getFileName().toString().endsWith(".calls.sock")).sorted().toList();
      }
      if (found.size() != DispatchBench.WORKERS) {
        throw new IllegalStateException("expected " + DispatchBench.WORKERS + " calls sockets under " + runDir
            + ", found " + found);
      }
      // As the node's transport: Netty's epoll domain sockets on an event loop of as many threads as the node's.
      events = new EpollEventLoopGroup(Math.min(4, Math.max(2, Runtime.getRuntime().availableProcessors())),
          new DefaultThreadFactory("raw-calls-io", true));
      for (Path socket : found) {
        sockets.add(new RawCallSocket(events, socket));
      }
      for (int i = 0; i < sockets.size(); i++) {
        rawPing(i).get(30, TimeUnit.SECONDS);
      }
    }

    @Setup(Level.Iteration)
    public void takeTurns(IterationParams iteration) {
      poolsTurn = poolsTurn(iteration.getType() == IterationType.WARMUP ? warmups++ : measured++);
    }

    /** ping on worker {@code worker}, straight through its calls socket. */
    CompletableFuture<String> rawPing(int worker) {
      return sockets.get(worker).call(ping).thenApply(answer -> {
        if (!answer.hasValue()) {
          throw new IllegalStateException("ping failed: " + answer);
        }
        return answer.getValue().getJson();
      });
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
      for (RawCallSocket socket : sockets) {
        socket.close();
      }
      if (events != null) {
        events.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
      if (node != null) {
        node.close();
      }
      deleteTree(Path.of(System.getProperty("snakepit.run-dir")));
    }
  }

  /**
   * Deletes {@code dir} and what it holds. The node deletes its own run directory inside it as its actor system
   * terminates, on another thread, so a walk may meet a directory that has just gone: walk again, a bounded number of
   * times.
   */
  static void deleteTree(Path dir) throws IOException {
    for (int attempt = 1; Files.exists(dir); attempt++) {
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (NoSuchFileException | UncheckedIOException e) {
        if (attempt == 5 || !(e instanceof NoSuchFileException || e.getCause() instanceof NoSuchFileException)) {
          throw e;
        }
      }
    }
  }
}
