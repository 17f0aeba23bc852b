package io.snakepit.actors.host;

import com.typesafe.config.Config;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.snakepit.proto.HostCallRequest;
import io.snakepit.proto.HostCallResponse;
import io.snakepit.proto.HostError;
import io.snakepit.proto.HostGrpc;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's end of the tool bridge: the {@code Host} gRPC service on {@code host.sock} in the run directory, the
 * host tools by name, and the bound on host calls in flight.
 *
 * <p>It exists apart from the public {@code Snakepit} because the socket must be up before the first worker starts
 * (the node starts it), while the application registers its tools later, through the facade. Handlers run on their
 * own fixed executor ({@code snakepit.host-tools.threads}), never on an actor's thread or a worker channel's: a
 * handler that calls back into a pool waits for a message the actors must still be free to deliver. At most
 * {@code snakepit.host-tools.max-calls} host calls are in flight at once, nested ones included; one more is refused
 * at once with {@code snakepit.HostBusy}. With the callers' deadlines carried into every nested call, a cycle of
 * tools and host tools calling one another ends at the first caller's deadline, or at that bound, whichever comes
 * first.
 */
public final class HostServer {
  private static final Logger LOG = LoggerFactory.getLogger(HostServer.class);
  /** The largest stack trace text sent back to Python. */
  private static final int MAX_TRACE_CHARS = 8192;

  public static final String UNKNOWN_HOST_TOOL = "snakepit.UnknownHostTool";
  public static final String INVALID_ARGUMENTS = "snakepit.InvalidArguments";
  public static final String HOST_BUSY = "snakepit.HostBusy";

  /**
   * The bridge's settings ({@code snakepit.host-tools}).
   *
   * @param threads the threads that run handlers
   * @param maxCalls the host calls in flight at once
   */
  public record Settings(int threads, int maxCalls) {
    public Settings {
      if (threads < 1) {
        throw new IllegalArgumentException("snakepit.host-tools.threads = " + threads + ": the host tools need at"
            + " least 1 thread to run on; set it to 1 or more (the default is 4)");
      }
      if (maxCalls < 1) {
        throw new IllegalArgumentException("snakepit.host-tools.max-calls = " + maxCalls + ": no host call could"
            + " run; set it to 1 or more (the default is 64)");
      }
    }

    /** From {@code snakepit} config. */
    public static Settings fromConfig(Config snakepit) {
      return new Settings(snakepit.getInt("host-tools.threads"), snakepit.getInt("host-tools.max-calls"));
    }
  }

  /**
   * One host call, as a handler gets it.
   *
   * @param tool the host tool called
   * @param argsJson its keyword arguments as a JSON object ("" for none)
   * @param callId the calling tool's call id ("" when the host call was made outside a call)
   * @param workerId the calling worker
   * @param deadline the caller's deadline, or null for none
   * @param ended completes once the call is answered, or fails with a {@link CancellationException} when the caller
   *     cancelled it or its deadline passed first
   */
  public record Request(String tool, String argsJson, String callId, String workerId, Deadline deadline,
      CompletableFuture<Void> ended) {}

  /** What serves one host tool: JSON text in, JSON text out. */
  @FunctionalInterface
  public interface Handler {
    CompletionStage<String> call(Request request) throws Exception;
  }

  /** A handler's refusal of its arguments: reaches Python as {@code snakepit.InvalidArguments}. */
  public static final class InvalidArguments extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InvalidArguments(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final Map<String, Handler> tools = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Settings settings;
  private final Path socket;
  private final ExecutorService handlers;
  private final EventLoopGroup loop;
  private final Server server;

  private HostServer(Path socket, Settings settings, int maxMessageSize) {
    this.settings = settings;
    this.socket = socket;
    AtomicInteger n = new AtomicInteger();
    this.handlers = Executors.newFixedThreadPool(settings.threads(), r -> {
      Thread t = new Thread(r, "snakepit-host-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.loop = new EpollEventLoopGroup(1, new DefaultThreadFactory("snakepit-host-io", true));
    // The service only hands work on (to the handlers' executor) and never blocks: it runs on the event loop.
    this.server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class)
        .bossEventLoopGroup(loop)
        .workerEventLoopGroup(loop)
        .directExecutor()
        // A null value removes the option gRPC sets on every connection: a Unix socket has none (Netty warned).
        .withChildOption(ChannelOption.SO_KEEPALIVE, null)
        .maxInboundMessageSize(maxMessageSize)
        .addService(new Service())
        .build();
  }

  /**
   * Serves the bridge on {@code socket} (in the node's 0700 run directory).
   *
   * @param maxMessageSize the largest host call's arguments taken
   */
  public static HostServer start(Path socket, Settings settings, int maxMessageSize) {
    HostServer host = new HostServer(socket, settings, maxMessageSize);
    try {
      host.server.start();
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      host.close();
      throw new UncheckedIOException("cannot serve the host tools on " + socket + ": " + e.getMessage()
          + ". Set snakepit.run-dir to a writable directory with a short path", e);
    }
    return host;
  }

  /** Where the workers reach it. */
  public Path socket() {
    return socket;
  }

  /** The bridge's settings. */
  public Settings settings() {
    return settings;
  }

  /**
   * Serves host tool {@code name} with {@code handler} from now on.
   *
   * @throws IllegalArgumentException if a host tool of that name is registered already, or the name is empty
   */
  public void register(String name, Handler handler) {
    Objects.requireNonNull(handler, "handler");
    if (Objects.requireNonNull(name, "name").isEmpty()) {
      throw new IllegalArgumentException("a host tool needs a name: Python calls it as host.call(name, ...)");
    }
    if (tools.putIfAbsent(name, handler) != null) {
      throw new IllegalArgumentException("host tool '" + name + "' is registered already; register each name once"
          + " (unregisterHostTool first to replace its handler)");
    }
  }

  /** Stops serving host tool {@code name}; calls to it already running go on. Whether it was registered. */
  public boolean unregister(String name) {
    return tools.remove(name) != null;
  }

  /** The registered host tools' names, sorted. */
  public List<String> names() {
    return tools.keySet().stream().sorted().toList();
  }

  /** Host calls in flight now. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Stops serving; calls in flight are cancelled. */
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(1, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    handlers.shutdownNow();
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      // The run directory goes with the node; a leftover socket harms nothing.
    }
  }

  private final class Service extends HostGrpc.HostImplBase {
    @Override
    public void ping(PingRequest request, StreamObserver<PingResponse> reply) {
      reply.onNext(PingResponse.newBuilder().setPid((int) ProcessHandle.current().pid()).addAllTools(names())
          .build());
      reply.onCompleted();
    }

    @Override
    public void call(HostCallRequest request, StreamObserver<HostCallResponse> reply) {
      ServerCallStreamObserver<HostCallResponse> call = (ServerCallStreamObserver<HostCallResponse>) reply;
      Handler handler = tools.get(request.getTool());
      if (handler == null) {
        List<String> names = names();
        answer(call, error(UNKNOWN_HOST_TOOL, "no host tool named '" + request.getTool() + "' is registered; "
            + (names.isEmpty() ? "none is" : "the host tools are " + String.join(", ", names))
            + ". Register it in the JVM with Snakepit.registerHostTool(\"" + request.getTool() + "\", handler)"
            + " before a tool calls it", names));
        return;
      }
      if (inFlight.incrementAndGet() > settings.maxCalls()) {
        inFlight.decrementAndGet();
        answer(call, error(HOST_BUSY, settings.maxCalls() + " host calls are in flight, the node's limit"
            + " (snakepit.host-tools.max-calls); host tool '" + request.getTool() + "' was not started. Raise the"
            + " limit, or look for a cycle of tools and host tools calling one another", List.of()));
        return;
      }
      Deadline deadline = callersDeadline(Context.current().getDeadline(), request.getDeadlineNs());
      CompletableFuture<Void> ended = new CompletableFuture<>();
      ended.whenComplete((done, error) -> inFlight.decrementAndGet());
      // A cancelled RPC (the tool's call was cancelled) and a passed deadline both end here.
      Runnable cancel = () -> ended.completeExceptionally(new CancellationException("host call '"
          + request.getTool() + "' of call " + request.getCallId() + " on worker " + request.getWorkerId()
          + (deadline != null && deadline.isExpired() ? ": its deadline passed" : ": its caller cancelled it")));
      call.setOnCancelHandler(cancel);
      if (call.isCancelled()) {
        cancel.run(); // before the handler was set: it will not be called
      }
      Request r = new Request(request.getTool(), request.getArgsJson(), request.getCallId(), request.getWorkerId(),
          deadline, ended);
      CompletableFuture<CompletionStage<String>> started = CompletableFuture.supplyAsync(() -> {
        if (ended.isDone()) {
          throw new CancellationException("host call '" + request.getTool() + "' ended before its handler ran");
        }
        try {
          return handler.call(r);
        } catch (Exception e) {
          throw new CompletionException(e);
        }
      }, handlers);
      // Cancelling the call cancels the stage the handler returned (and the stages it tied to the call itself).
      ended.whenComplete((done, error) -> {
        if (error != null) {
          started.thenAccept(stage -> {
            if (stage != null) {
              stage.toCompletableFuture().cancel(false);
            }
          });
        }
      });
      CompletableFuture<String> result = started.thenCompose(stage -> stage != null ? stage
          : CompletableFuture.failedFuture(new NullPointerException("host tool '" + request.getTool()
              + "' returned no stage; return a CompletionStage of the result's JSON")));
      result.whenComplete((json, error) -> {
        // Out of the count before the answer: a caller that calls again at once is not refused for this call.
        if (!ended.complete(null)) {
          return; // cancelled, or past its deadline: nobody waits for an answer
        }
        answer(call, error != null ? failure(request.getTool(), error)
            : HostCallResponse.newBuilder().setJson(json == null ? "null" : json).build());
      });
    }

    private void answer(ServerCallStreamObserver<HostCallResponse> call, HostCallResponse response) {
      if (call.isCancelled()) {
        return;
      }
      try {
        call.onNext(response);
        call.onCompleted();
      } catch (IllegalStateException e) {
        // Cancelled between the check and the reply: nobody waits for it.
      }
    }
  }

  private static HostCallResponse error(String type, String message, List<String> available) {
    return HostCallResponse.newBuilder().setError(HostError.newBuilder().setType(type).setMessage(message)
        .addAllAvailableTools(available)).build();
  }

  /** A handler's failure as Python sees it: its exception's class, message and stack trace. */
  private static HostCallResponse failure(String tool, Throwable error) {
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof InvalidArguments) {
      return error(INVALID_ARGUMENTS, e.getMessage(), List.of());
    }
    LOG.debug("host tool '{}' failed", tool, e);
    StringWriter trace = new StringWriter();
    e.printStackTrace(new PrintWriter(trace));
    String text = trace.toString();
    return HostCallResponse.newBuilder().setError(HostError.newBuilder().setType(e.getClass().getName())
        .setMessage(e.getMessage() == null ? "" : e.getMessage())
        .setTrace(text.length() <= MAX_TRACE_CHARS ? text : text.substring(0, MAX_TRACE_CHARS) + "\n\t...")).build();
  }

  /**
   * The calling tool's deadline: the RPC's (relative, so later by the time the request took to arrive) or, when the
   * worker sent one its clock shares (the host's CLOCK_MONOTONIC, System.nanoTime here) within a second of it, the
   * earlier of the two.
   */
  static Deadline callersDeadline(Deadline rpc, long deadlineNs) {
    if (rpc == null || deadlineNs <= 0) {
      return rpc;
    }
    long sent = deadlineNs - System.nanoTime();
    long relative = rpc.timeRemaining(TimeUnit.NANOSECONDS);
    if (Math.abs(sent - relative) >= TimeUnit.SECONDS.toNanos(1)) {
      return rpc; // not the same clock (another time namespace): the RPC's own deadline
    }
    return sent < relative ? Deadline.after(sent, TimeUnit.NANOSECONDS) : rpc;
  }
}
