package io.snakepit.actors;

import io.grpc.LoadBalancerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.internal.PickFirstLoadBalancerProvider;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.snakepit.actors.worker.CallSocket;
import io.snakepit.actors.worker.WorkerConnections;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's gRPC channels and calls-socket connections to its workers' Unix sockets, built so that they work in any
 * packaging of the application.
 *
 * <p>Why it exists: the usual ways to open a {@code unix:} channel find the transport, the name resolver and the
 * {@code pick_first} policy through {@code META-INF/services} files, and a jar shaded without merging those files
 * (several gRPC jars ship one of the same name) loses some of them: every call then failed with
 * {@code Could not find policy 'pick_first'} while the workers were up. Here the transport is chosen directly (epoll
 * domain sockets, the node's own event loop), the address needs no resolver, and a missing {@code pick_first} is
 * registered once with a warning that names the packaging fix. It also drops the {@code SO_KEEPALIVE} option that
 * gRPC asks of every transport: a Unix socket has none, and Netty warned about it at every connection.
 */
final class WorkerTransport implements WorkerConnections {
  private static final Logger log = LoggerFactory.getLogger(WorkerTransport.class);
  private static final String PICK_FIRST = "pick_first";

  private final EventLoopGroup events;
  private final ExecutorService callbacks;
  private final OutOfMemory outOfMemory;

  WorkerTransport(OutOfMemory outOfMemory) {
    this.outOfMemory = outOfMemory;
    this.callbacks = outOfMemory.callbackPool("snakepit-grpc", "running a gRPC callback of a worker's channel");
    // Socket I/O only (the callbacks run on their own executor): a couple of threads carry every worker's channel.
    this.events = new EpollEventLoopGroup(Math.min(4, Math.max(2, Runtime.getRuntime().availableProcessors())),
        new DefaultThreadFactory("snakepit-grpc-io", true));
    ensurePickFirst();
  }

  /** What a call frame may add around one message (the worker's server.FRAME_MARGIN_BYTES). */
  static final int FRAME_MARGIN_BYTES = 1024;

  @Override
  public ManagedChannel channel(String socketPath, int maxMessageSize) {
    return NettyChannelBuilder.forAddress(new DomainSocketAddress(socketPath))
        .channelType(EpollDomainSocketChannel.class)
        .eventLoopGroup(events)
        .negotiationType(NegotiationType.PLAINTEXT)
        // A null value removes the option gRPC sets on every transport.
        .withOption(ChannelOption.SO_KEEPALIVE, null)
        .executor(callbacks)
        // gRPC turns an error in reading a reply into a cancelled call: out of memory is reported, not swallowed.
        .intercept(outOfMemory.clientInterceptor("the worker at " + socketPath))
        .maxInboundMessageSize(maxFrame(maxMessageSize))
        .build();
  }

  @Override
  public CallSocket callSocket(String socketPath, int maxMessageSize, CallSocket.Receiver receiver) {
    return NettyCallSocket.open(events, socketPath, maxFrame(maxMessageSize), receiver, outOfMemory);
  }

  /** Room for a frame's id and tags around a result of the limit (the worker keeps results within it). */
  private static int maxFrame(int maxMessageSize) {
    return (int) Math.min(Integer.MAX_VALUE, (long) maxMessageSize + FRAME_MARGIN_BYTES);
  }

  /** Stops the threads; the channels are shut down by their workers before this. */
  void close() {
    callbacks.shutdown();
    events.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }

  private static void ensurePickFirst() {
    LoadBalancerRegistry registry = LoadBalancerRegistry.getDefaultRegistry();
    if (registry.getProvider(PICK_FIRST) == null) {
      registry.register(new PickFirstLoadBalancerProvider());
      log.warn("gRPC's load-balancing policy '{}' was not registered: this application's jar was probably built"
          + " without merging META-INF/services (maven-shade-plugin needs the ServicesResourceTransformer, see"
          + " docs/EMBEDDING.md). Snakepit registered it for its own channels; other gRPC clients in this JVM may"
          + " still fail", PICK_FIRST);
    }
  }
}
