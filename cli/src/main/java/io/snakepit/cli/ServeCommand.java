package io.snakepit.cli;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import io.snakepit.Settlement;
import io.snakepit.Snakepit;
import io.snakepit.actors.OutOfMemory;
import io.snakepit.actors.worker.Isolation;
import io.snakepit.persistence.DataDirectory;
import io.snakepit.persistence.Registry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit serve}: a node running the default pool, with a gateway for {@code snakepit call}. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Start a node: a pool of Python workers behind a gRPC gateway. Prints a line starting with"
        + " 'ready:' once every worker is up; SIGINT or SIGTERM stops everything.")
final class ServeCommand implements Callable<Integer> {
  private static final String DEFAULT_LISTEN = "127.0.0.1:50051";

  @Option(names = "--workers", paramLabel = "N", description = "Workers in the default pool.")
  Integer workers;

  @Option(names = "--adapter", paramLabel = "pkg.module:Class", description = "The adapter the workers serve.")
  String adapter;

  @Option(names = "--python-path", paramLabel = "DIR",
      description = "A directory to put on the workers' PYTHONPATH (repeatable), so your adapters load.")
  List<Path> pythonPath = new ArrayList<>();

  @Option(names = "--python", paramLabel = "PYTHON", description = "The Python executable for the workers.")
  String python;

  @Option(names = "--listen", paramLabel = "HOST:PORT|unix:PATH", converter = Endpoint.Converter.class,
      description = "Where the gateway listens, repeatable: a TCP address, or a Unix socket (made mode 0600, removed"
          + " on stop). An address other hosts can reach needs --tls-cert and --tls-key, or --insecure"
          + " (default: " + DEFAULT_LISTEN + ").")
  List<Endpoint> listen = new ArrayList<>();

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "The gateway's TLS certificate chain (PEM); TCP listeners then serve TLS only.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The private key of --tls-cert (PEM, PKCS#8).")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE",
      description = "Require client certificates that chain to these CA certificates (PEM): mutual TLS.")
  Path tlsClientCa;

  @Option(names = "--insecure", description = "Serve an address other hosts can reach without TLS, for a network"
      + " that something else protects. Prints a warning at every start.")
  boolean insecure;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
      description = "The node's state directory: instance locks, the embedded journal and the gateway's token,"
          + " gateway-INSTANCE.token (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "This node's name on the host (default: snakepit.instance, \"default\").")
  String instance;

  @Option(names = "--isolation", paramLabel = "MODE",
      description = "How workers are contained: process (default), cgroup, namespaces, runc or systemd."
          + " 'snakepit doctor' says which this host supports.")
  String isolation;

  @Option(names = "--network", paramLabel = "host|none",
      description = "namespaces and runc modes: none leaves the workers only a private loopback.")
  String network;

  @Option(names = "--memory-limit", paramLabel = "SIZE", description = "Memory limit per worker, e.g. 512MiB.")
  String memoryLimit;

  @Option(names = "--pids-limit", paramLabel = "N", description = "Processes and threads per worker.")
  Integer pidsLimit;

  @Option(names = "--cpu-limit", paramLabel = "CPUS", description = "CPU time per worker, in CPUs, e.g. 0.5.")
  Double cpuLimit;

  @Override
  public Integer call() throws Exception {
    if (isolation != null) {
      try {
        Isolation.Mode.parse(isolation);
      } catch (IllegalArgumentException e) {
        System.err.println("snakepit: --isolation: " + e.getMessage());
        return 2;
      }
    }
    List<Endpoint> listens = listen.isEmpty() ? List.of(new Endpoint.Converter().convert(DEFAULT_LISTEN)) : listen;
    Gateway.Tls tls;
    try {
      tls = tls();
    } catch (IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    String refusal = Gateway.refusal(listens, tls, insecure);
    if (refusal != null) {
      System.err.println("snakepit: " + refusal);
      return 2;
    }
    String warning = Gateway.insecureWarning(listens, tls, insecure);
    if (warning != null) {
      System.err.println(warning);
    }
    try {
      DataDirectory.prepare(dataDir).ifPresent(w -> System.err.println("snakepit: warning: " + w));
    } catch (RuntimeException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      return 1;
    }
    Config config = NodeConfig.load(dataDir, instance, overrides());
    OutOfMemory outOfMemory;
    try {
      outOfMemory = OutOfMemory.fromConfig(config);
    } catch (IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    // This JVM is the node's: threads that nobody else watches report running out of memory too.
    Thread.setDefaultUncaughtExceptionHandler(
        outOfMemory.uncaughtHandler(Thread.getDefaultUncaughtExceptionHandler()));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "snakepit", config);
    Snakepit snakepit;
    try {
      snakepit = Snakepit.get(system);
      Settlement settled = snakepit.settlement().toCompletableFuture().get();
      if (settled != null) {
        System.out.println(settled.summary());
        System.out.flush();
      }
      snakepit.ready().toCompletableFuture().get();
    } catch (ExecutionException | RuntimeException e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      System.err.println("snakepit: the node could not start: " + cause.getMessage());
      terminate(system);
      return 1;
    }
    // The token is written only now: the instance lock is ours, so no live node's token is replaced.
    Path tokenFile = GatewayToken.file(dataDir, config.getString("snakepit.instance")).toAbsolutePath().normalize();
    Gateway gateway;
    try {
      String token = GatewayToken.create(tokenFile);
      try {
        gateway = Gateway.start(listens, tls, new GatewayService(snakepit, outOfMemory),
            new GatewayAuth(token, tokenFile), GatewayService.maxRequestSize(snakepit), outOfMemory);
      } catch (IOException e) {
        Files.deleteIfExists(tokenFile);
        throw e;
      }
    } catch (IOException e) {
      System.err.println("snakepit: " + e.getMessage());
      terminate(system);
      return 1;
    }
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "snakepit-gateway",
        () -> CompletableFuture.supplyAsync(() -> {
          gateway.stop();
          try {
            Files.deleteIfExists(tokenFile);
          } catch (IOException e) {
            system.log().warn("cannot remove the gateway token {}: {}", tokenFile, e.getMessage());
          }
          return akka.Done.getInstance();
        }));
    Config pool = config.getConfig("snakepit.pools.default").withFallback(config.getConfig("snakepit.pool-defaults"));
    System.out.println("ready: " + pool.getInt("workers") + " workers of " + pool.getString("adapter")
        + ", gateway on " + gateway.describe() + ", isolation " + pool.getString("isolation.mode")
        + ", token in " + tokenFile);
    System.out.flush();
    system.getWhenTerminated().toCompletableFuture().get();
    // A node that stopped itself because its journal failed writes exits non-zero: its service manager restarts it.
    if (CoordinatedShutdown.get(system).getShutdownReason().orElse(null)
        instanceof Registry.JournalOutage outage) {
      System.err.println("snakepit: the node stopped: " + outage.message());
      return 3;
    }
    return 0;
  }

  /** The TLS files, or null for none; an {@link IllegalArgumentException} names a missing or clashing flag. */
  private Gateway.Tls tls() {
    if (tlsCert == null && tlsKey == null) {
      if (tlsClientCa != null) {
        throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key: the gateway asks for"
            + " client certificates only over TLS");
      }
      return null;
    }
    if (tlsCert == null || tlsKey == null) {
      throw new IllegalArgumentException("TLS needs both --tls-cert FILE and --tls-key FILE; only "
          + (tlsCert == null ? "--tls-key " + tlsKey : "--tls-cert " + tlsCert) + " was given");
    }
    if (insecure) {
      throw new IllegalArgumentException("--insecure turns TLS off and --tls-cert turns it on: give one of them");
    }
    return new Gateway.Tls(tlsCert, tlsKey, tlsClientCa);
  }

  private Map<String, Object> overrides() {
    Map<String, Object> c = new LinkedHashMap<>();
    String pool = "snakepit.pools.default.";
    if (workers != null) {
      c.put(pool + "workers", workers);
    }
    if (adapter != null) {
      c.put(pool + "adapter", adapter);
    }
    if (python != null) {
      c.put(pool + "python", python);
    }
    if (!pythonPath.isEmpty()) {
      c.put(pool + "python-path", pythonPath.stream().map(p -> p.toAbsolutePath().toString()).toList());
    }
    String isolated = "snakepit.pool-defaults.isolation.";
    if (isolation != null) {
      c.put(isolated + "mode", isolation);
    }
    if (network != null) {
      c.put(isolated + "network", network);
    }
    if (memoryLimit != null) {
      c.put(isolated + "limits.memory", memoryLimit);
    }
    if (pidsLimit != null) {
      c.put(isolated + "limits.pids", pidsLimit);
    }
    if (cpuLimit != null) {
      c.put(isolated + "limits.cpu", cpuLimit);
    }
    return c;
  }

  /** Stops the actor system, waiting up to a minute: main's System.exit then ends the JVM either way. */
  private static void terminate(ActorSystem<Void> system) throws InterruptedException, ExecutionException {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(1, TimeUnit.MINUTES);
    } catch (TimeoutException e) {
      System.err.println("snakepit: the node did not stop within a minute; exiting anyway (each worker's shim takes"
          + " its tree down when the JVM is gone)");
    }
  }
}
