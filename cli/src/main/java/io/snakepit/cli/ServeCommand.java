package io.snakepit.cli;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.snakepit.Snakepit;
import io.snakepit.actors.worker.Isolation;
import io.snakepit.persistence.DataDirectory;
import io.snakepit.persistence.SettlementReport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit serve}: a node running the default pool, with a gateway for {@code snakepit call}. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Start a node: a pool of Python workers behind a gRPC gateway. Prints a line starting with"
        + " 'ready:' once every worker is up; SIGINT or SIGTERM stops everything.")
final class ServeCommand implements java.util.concurrent.Callable<Integer> {

  @Option(names = "--workers", paramLabel = "N", description = "Workers in the default pool.")
  Integer workers;

  @Option(names = "--adapter", paramLabel = "pkg.module:Class", description = "The adapter the workers serve.")
  String adapter;

  @Option(names = "--python-path", paramLabel = "DIR",
      description = "A directory to put on the workers' PYTHONPATH (repeatable), so your adapters load.")
  List<Path> pythonPath = new ArrayList<>();

  @Option(names = "--python", paramLabel = "PYTHON", description = "The Python executable for the workers.")
  String python;

  @Option(names = "--listen", paramLabel = "HOST:PORT", converter = HostPort.Converter.class,
      defaultValue = "127.0.0.1:50051", description = "Where the gateway listens (default: ${DEFAULT-VALUE}).")
  HostPort listen;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
      description = "The node's state directory: instance locks and the embedded journal (default: ${DEFAULT-VALUE}).")
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
    try {
      DataDirectory.prepare(dataDir).ifPresent(warning -> System.err.println("snakepit: warning: " + warning));
    } catch (RuntimeException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      return 1;
    }
    Config config = NodeConfig.load(dataDir, instance, overrides());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "snakepit", config);
    Snakepit snakepit;
    try {
      snakepit = Snakepit.get(system);
      SettlementReport settled = snakepit.settlement().toCompletableFuture().get();
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
    Server gateway;
    try {
      gateway = NettyServerBuilder.forAddress(new InetSocketAddress(listen.host(), listen.port()))
          .addService(new GatewayService(snakepit))
          .maxInboundMessageSize(GatewayService.maxRequestSize(snakepit))
          .build()
          .start();
    } catch (IOException e) {
      System.err.println("snakepit: cannot listen on " + listen + ": " + e.getMessage()
          + ". Is another node running there? Choose another address with --listen HOST:PORT");
      terminate(system);
      return 1;
    }
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "snakepit-gateway", () -> {
      gateway.shutdown();
      return CompletableFuture.supplyAsync(() -> {
        try {
          if (!gateway.awaitTermination(5, TimeUnit.SECONDS)) {
            gateway.shutdownNow();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          gateway.shutdownNow();
        }
        return akka.Done.getInstance();
      });
    });
    Config pool = config.getConfig("snakepit.pools.default").withFallback(config.getConfig("snakepit.pool-defaults"));
    System.out.println("ready: " + pool.getInt("workers") + " workers of " + pool.getString("adapter")
        + ", gateway on " + listen.host() + ":" + gateway.getPort() + ", isolation "
        + pool.getString("isolation.mode"));
    System.out.flush();
    system.getWhenTerminated().toCompletableFuture().get();
    return 0;
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

  private static void terminate(ActorSystem<Void> system) throws InterruptedException, ExecutionException {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get();
  }
}
