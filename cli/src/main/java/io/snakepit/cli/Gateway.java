package io.snakepit.cli;

import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.snakepit.actors.OutOfMemory;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The gateway's listeners: one gRPC server per {@code --listen} address, TCP (with TLS when configured) or a Unix
 * socket (mode 0600, removed on stop). Every server admits calls through the same interceptor.
 */
final class Gateway {

  /**
   * The gateway's TLS files, PEM.
   *
   * @param cert the certificate chain the gateway presents
   * @param key its private key, PKCS#8
   * @param clientCa if not null, the CA certificates that client certificates must chain to (mutual TLS)
   */
  record Tls(Path cert, Path key, Path clientCa) {}

  /** One running server and what it listens on. */
  private record Listener(Endpoint endpoint, Server server, EpollEventLoopGroup loop, Object socketKey) {
    String describe() {
      return endpoint instanceof Endpoint.Tcp tcp ? new Endpoint.Tcp(tcp.host(), server.getPort()).toString()
          : endpoint.toString();
    }
  }

  private final List<Listener> listeners;

  private Gateway(List<Listener> listeners) {
    this.listeners = listeners;
  }

  /**
   * Why the node must not serve on {@code listens} as configured, or null if it may: an address other hosts can
   * reach needs TLS or an explicit {@code --insecure}.
   */
  static String refusal(List<Endpoint> listens, Tls tls, boolean insecure) {
    if (tls == null && !insecure) {
      for (Endpoint e : listens) {
        if (e instanceof Endpoint.Tcp tcp && !tcp.loopback()) {
          return "--listen " + tcp + " can be reached from other hosts, and the gateway would serve it without TLS:"
              + " give --tls-cert FILE and --tls-key FILE (and --tls-client-ca FILE to require client"
              + " certificates), or --insecure if something else protects that network (see docs/SECURITY.md)";
        }
      }
    }
    return null;
  }

  /** The warning {@code --insecure} prints at every start, or null when no address needs one. */
  static String insecureWarning(List<Endpoint> listens, Tls tls, boolean insecure) {
    if (!insecure || tls != null) {
      return null;
    }
    String exposed = listens.stream().filter(e -> e instanceof Endpoint.Tcp tcp && !tcp.loopback())
        .map(Object::toString).collect(Collectors.joining(", "));
    return "snakepit: warning: --insecure: the gateway serves " + (exposed.isEmpty() ? "TCP" : exposed)
        + " without TLS; its token and every call cross the network in clear text. Use --tls-cert and --tls-key"
        + " unless a TLS proxy or a private network protects it";
  }

  /**
   * Starts a server on each endpoint, taking requests of up to {@code maxRequest} bytes; its calls run on the
   * transport's threads, their out-of-memory errors going to {@code outOfMemory}. On failure, stops those already
   * started and throws.
   *
   * <p>No executor of its own: a gateway call only checks the token, parses, and hands the call to a pool's actor,
   * none of which blocks, so a hand-off to another thread (two, with the message) would cost more than the work.
   * gRPC's direct executor, not one that runs its tasks inline: only that one takes gRPC's direct path (no task queue
   * per call, the request read without moving between threads); {@link GatewayGuard} does the guarding instead.
   */
  static Gateway start(List<Endpoint> listens, Tls tls, BindableService service, ServerInterceptor auth,
      int maxRequest, OutOfMemory outOfMemory) throws IOException {
    ServerCredentials tcpCredentials = tls == null ? InsecureServerCredentials.create() : credentials(tls);
    ServerInterceptor guard = new GatewayGuard(outOfMemory);
    List<Listener> started = new ArrayList<>();
    try {
      for (Endpoint endpoint : listens) {
        started.add(endpoint instanceof Endpoint.Unix unix ? startUnix(unix, service, auth, guard, maxRequest)
            : startTcp((Endpoint.Tcp) endpoint, tcpCredentials, service, auth, guard, maxRequest));
      }
    } catch (IOException | RuntimeException e) {
      new Gateway(started).stop();
      throw e;
    }
    return new Gateway(started);
  }

  /** Where the gateway listens, with the ports TCP servers got: {@code 127.0.0.1:50051 and unix:/run/s.sock}. */
  String describe() {
    return listeners.stream().map(Listener::describe).collect(Collectors.joining(" and "));
  }

  /** Stops every server, waiting up to 5 s for calls in flight, and removes the Unix sockets. */
  /** Takes no new calls; those in flight go on ({@link #stop} ends them). */
  void stopTakingCalls() {
    listeners.forEach(l -> l.server().shutdown());
  }

  void stop() {
    listeners.forEach(l -> l.server().shutdown());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (Listener l : listeners) {
      try {
        if (!l.server().awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          l.server().shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        l.server().shutdownNow();
      }
      if (l.loop() != null) {
        l.loop().shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
      if (l.endpoint() instanceof Endpoint.Unix unix) {
        removeSocket(unix.path(), l.socketKey());
      }
    }
  }

  private static ServerCredentials credentials(Tls tls) throws IOException {
    TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder();
    try {
      b.keyManager(tls.cert().toFile(), tls.key().toFile());
    } catch (IOException | RuntimeException e) {
      throw new IOException("cannot use --tls-cert " + tls.cert() + " with --tls-key " + tls.key() + ": "
          + e.getMessage() + ". Both must be PEM files, the key in PKCS#8 ('BEGIN PRIVATE KEY')", e);
    }
    if (tls.clientCa() != null) {
      try {
        b.trustManager(tls.clientCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      } catch (IOException | RuntimeException e) {
        throw new IOException("cannot use --tls-client-ca " + tls.clientCa() + ": " + e.getMessage()
            + ". It must be a PEM file of CA certificates", e);
      }
    }
    return b.build();
  }

  /**
   * What every listener serves, and how: the gateway behind its token check, on the transport's threads, every
   * handler (the token check's too) under the guard.
   */
  private static Server serving(NettyServerBuilder builder, BindableService service, ServerInterceptor auth,
      ServerInterceptor guard, int maxRequest) {
    // The last interceptor given runs first.
    return builder.directExecutor()
        .addService(ServerInterceptors.intercept(service, auth, guard))
        .maxInboundMessageSize(maxRequest)
        .build();
  }

  private static Listener startTcp(Endpoint.Tcp tcp, ServerCredentials credentials, BindableService service,
      ServerInterceptor auth, ServerInterceptor guard, int maxRequest) throws IOException {
    Server server = serving(NettyServerBuilder.forAddress(new InetSocketAddress(tcp.host(), tcp.port()), credentials),
        service, auth, guard, maxRequest);
    try {
      server.start();
    } catch (IOException e) {
      throw new IOException("cannot listen on " + tcp + ": " + e.getMessage() + ". Is another node running there?"
          + " Choose another address with --listen HOST:PORT", e);
    }
    return new Listener(tcp, server, null, null);
  }

  /**
   * Binds in a fresh directory of mode 0700, sets the socket to 0600 and renames it into place: the socket is never
   * at its path with the mode bind(2) gave it.
   */
  private static Listener startUnix(Endpoint.Unix unix, BindableService service, ServerInterceptor auth,
      ServerInterceptor guard, int maxRequest) throws IOException {
    Path path = unix.path().toAbsolutePath().normalize();
    clearStale(path);
    byte[] nonce = new byte[4];
    new SecureRandom().nextBytes(nonce);
    Path dir = Files.createDirectory(path.resolveSibling(".snakepit-" + HexFormat.of().formatHex(nonce)),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path bound = dir.resolve("s");
    EpollEventLoopGroup loop = new EpollEventLoopGroup(1);
    Server server = serving(NettyServerBuilder.forAddress(new DomainSocketAddress(bound.toString()))
        .channelType(EpollServerDomainSocketChannel.class)
        .bossEventLoopGroup(loop)
        .workerEventLoopGroup(loop), service, auth, guard, maxRequest);
    try {
      server.start();
      Files.setPosixFilePermissions(bound, PosixFilePermissions.fromString("rw-------"));
      Files.move(bound, path, StandardCopyOption.ATOMIC_MOVE);
      Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
      return new Listener(new Endpoint.Unix(path), server, loop, key);
    } catch (IOException | RuntimeException e) {
      server.shutdownNow();
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Files.deleteIfExists(bound);
      throw new IOException("cannot listen on " + unix + ": " + e.getMessage(), e);
    } finally {
      Files.deleteIfExists(dir);
    }
  }

  /** Removes a socket left by a node that died; refuses a live one and anything that is not a socket. */
  private static void clearStale(Path path) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    if (!a.isOther()) {
      throw new IOException("cannot listen on unix:" + path + ": it exists and is not a socket. Remove it or"
          + " choose another path with --listen unix:PATH");
    }
    boolean live;
    try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      live = true;
    } catch (ConnectException e) {
      live = false; // nothing listens: left by a node that died
    } catch (IOException e) {
      throw new IOException("cannot listen on unix:" + path + ": a socket is there and connecting to it failed ("
          + e.getMessage() + "). Remove it or choose another path with --listen unix:PATH", e);
    }
    if (live) {
      throw new IOException("cannot listen on unix:" + path + ": a process is listening there. Is another node"
          + " running? Choose another path with --listen unix:PATH");
    }
    Files.delete(path);
  }

  private static void removeSocket(Path path, Object key) {
    Path file = path.toAbsolutePath().normalize();
    try {
      // Only our own socket: it may have been replaced since.
      if (Objects.equals(key, Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
          .fileKey())) {
        Files.delete(file);
      }
    } catch (IOException e) {
      // Already gone, or removed by hand.
    }
  }
}
