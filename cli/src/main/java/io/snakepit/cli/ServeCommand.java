package io.snakepit.cli;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.Settlement;
import io.snakepit.Snakepit;
import io.snakepit.actors.Node;
import io.snakepit.actors.OutOfMemory;
import io.snakepit.actors.metrics.NodeMetrics;
import io.snakepit.actors.pool.PoolSettings;
import io.snakepit.actors.worker.Isolation;
import io.snakepit.cluster.ClusterSettings;
import io.snakepit.cluster.ClusterStatus;
import io.snakepit.cluster.Membership;
import io.snakepit.persistence.DataDirectory;
import io.snakepit.persistence.Registry;
import io.snakepit.settings.SettingPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit serve}: a node running its pool "default" (and any a --config file adds), with a gateway. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Start a node: a pool of Python workers behind a gRPC gateway. Prints a line starting with"
        + " 'ready:' once every worker is up; SIGINT or SIGTERM stops everything. Its pool is named default;"
        + " without --adapter it serves the example adapter (" + NodeConfig.EXAMPLE_ADAPTER + ").",
    footer = {"", "Settings, first wins: these flags; -Dsnakepit... system properties (SNAKEPIT_JAVA_OPTS); the"
        + " --config file; application.conf (or -Dconfig.file); serve's defaults; reference.conf. Paths given as"
        + " flags are relative to the working directory; relative paths in a --config file are relative to the"
        + " file's directory (or to its snakepit.base-dir).",
        "", "Exit status: 0 detached (snakepit detach, SIGUSR2); 130 or 143 stopped cleanly by SIGINT or SIGTERM"
        + " (128 + the signal, as the JVM reports a stop by a signal); 1 could not start (a bad --config file or"
        + " --token-file, a pool that cannot start, the gateway or the HTTP endpoint cannot listen; --take-over: the"
        + " old node could not be signalled or did not exit within " + ServeCommand.TAKE_OVER_LIMIT_SECONDS + " s);"
        + " 2 bad flags; 3 stopped itself"
        + " because its journal failed writes; 4 out of memory (snakepit.on-out-of-memory = exit); 5 the cluster"
        + " downed it (split brain resolver) or it left the cluster."})
final class ServeCommand implements Callable<Integer> {
  private static final String DEFAULT_LISTEN = "127.0.0.1:50051";
  private static final String POOL = "default";
  /** The actor system's name, part of every cluster address: every node of a cluster must use the same. */
  static final String SYSTEM = "snakepit";
  private static final String TOKEN_FILE = "snakepit.gateway.token-file";
  /** How long --take-over waits for the old node to exit, as long as snakepit detach's --timeout default. */
  static final long TAKE_OVER_LIMIT_SECONDS = 300;

  @Option(names = "--config", paramLabel = "FILE",
      description = "A HOCON file of settings, as in reference.conf (snakepit { ... }): more pools, the pool"
          + " default's settings, the journal, ... Flags win over it; its relative paths are relative to its"
          + " directory.")
  Path configFile;

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

  @Option(names = "--http", paramLabel = "HOST:PORT|off",
      description = "Where the node serves /metrics (Prometheus), /health, /status (JSON) and its dashboard (/) over"
          + " HTTP, or off (default: snakepit.http.address, 127.0.0.1:8558). With --tls-cert it serves HTTPS. An"
          + " address other hosts can reach follows the gateway's rules: TLS (or --insecure), and requests for data"
          + " carry the gateway's token (the dashboard: open it as https://HOST:PORT/#token=TOKEN).")
  String http;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "The gateway's TLS certificate chain (PEM); TCP listeners then serve TLS only.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The private key of --tls-cert (PEM, PKCS#8).")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE",
      description = "Require client certificates that chain to these CA certificates (PEM): mutual TLS.")
  Path tlsClientCa;

  @Option(names = "--insecure", description = "Serve an address other hosts can reach without TLS, for a network"
      + " that something else protects; also lets a --cluster-host other hosts can reach carry cluster traffic in"
      + " clear text. Prints a warning at every start.")
  boolean insecure;

  @Option(names = "--cluster-port", paramLabel = "PORT",
      description = "Run the node as a member of a cluster, its cluster transport on this TCP port"
          + " (snakepit.cluster.port). Needs --seed. Without it the node runs alone. See docs/CLUSTER.md.")
  Integer clusterPort;

  @Option(names = "--cluster-host", paramLabel = "HOST",
      description = "The address other nodes reach this one at (snakepit.cluster.host, default 127.0.0.1). One"
          + " other hosts can reach needs --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca, or --insecure.")
  String clusterHost;

  @Option(names = "--cluster-tls-cert", paramLabel = "FILE",
      description = "Encrypt cluster traffic (TLS, mutual): this node's certificate (PEM), issued by --cluster-tls-ca"
          + " (snakepit.cluster.tls.cert). Every node's certificate must share a subject name (CN or subjectAltName).")
  Path clusterTlsCert;

  @Option(names = "--cluster-tls-key", paramLabel = "FILE",
      description = "The private key of --cluster-tls-cert (PEM, RSA, unencrypted; snakepit.cluster.tls.key).")
  Path clusterTlsKey;

  @Option(names = "--cluster-tls-ca", paramLabel = "FILE",
      description = "The CA certificate (PEM) that issued every node's certificate: only nodes with a certificate"
          + " it issued may join (snakepit.cluster.tls.ca).")
  Path clusterTlsCa;

  @Option(names = "--seed", paramLabel = "HOST:PORT", split = ",",
      description = "The cluster nodes to join through, comma-separated or repeated (snakepit.cluster.seeds). Give"
          + " every node the same list; the node whose own address comes first may start a new cluster.")
  List<String> seeds = new ArrayList<>();

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "The node's state directory: instance locks, the embedded journal and the gateway's token,"
          + " gateway-INSTANCE.token. A relative DIR is relative to the working directory (default: the --config"
          + " file's snakepit.data-dir, else data, in the working directory).")
  Path dataDir;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "Take the gateway's token from FILE instead of making a new one at every start, so that every"
          + " node of a cluster (and a node restarted) has the same (snakepit.gateway.token-file). FILE must be the"
          + " node's user's, mode 0600 or 0400, not a symbolic link, and hold at least 32 characters. The node then"
          + " neither writes nor removes DATA_DIR/gateway-INSTANCE.token.")
  Path tokenFileGiven;

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

  @Option(names = "--adopt-window", paramLabel = "DURATION",
      description = "After a planned restart (snakepit detach, or SIGUSR2 to this node), how long the workers wait"
          + " for the next node before they end, e.g. 60s (snakepit.adopt-window, default 60s).")
  String adoptWindow;

  @Option(names = "--take-over",
      description = "A planned restart in one command: start while the node of this data directory and instance"
          + " still serves, then ask it to detach (SIGUSR2, as snakepit detach does), wait for it to exit (at most"
          + " " + TAKE_OVER_LIMIT_SECONDS + " s), and adopt its workers. Prints 'taking over: node pid P detaching'"
          + " and 'taking over: node pid P exited after N ms'. With no node running there it is a plain start.")
  boolean takeOver;

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
    Config config;
    try {
      config = NodeConfig.load(configFile, dataDir, Path.of("data"), instance, overrides(), defaults());
      Config pools = config.getConfig("snakepit.pools");
      if (!pools.hasPath(POOL)) {
        throw new IllegalArgumentException("serve runs the pool '" + POOL + "', and the configuration sets"
            + " snakepit.pools." + POOL + " = null: remove that line, or configure the pool there");
      }
    } catch (NodeConfig.BadFile e) {
      System.err.println("snakepit: " + e.getMessage());
      return 1;
    } catch (ConfigException | IllegalArgumentException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      return 1;
    }
    Optional<ClusterSettings> cluster;
    try {
      cluster = ClusterSettings.fromConfig(config.getConfig("snakepit"));
    } catch (ConfigException | IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    if (cluster.isPresent()) {
      String clusterRefusal = cluster.get().refusal();
      if (clusterRefusal != null) {
        System.err.println("snakepit: " + clusterRefusal);
        return 2;
      }
      String clusterWarning = cluster.get().warning();
      if (clusterWarning != null) {
        System.err.println(clusterWarning);
      }
      config = cluster.get().over(config, SYSTEM);
    }
    Endpoint.Tcp httpAddress;
    try {
      httpAddress = HttpEndpoint.parse(config.getString("snakepit.http.address"),
          http != null ? "--http" : "snakepit.http.address");
    } catch (IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    Dashboard.Settings dashboardSettings;
    try {
      dashboardSettings = httpAddress == null ? null : Dashboard.Settings.of(config);
    } catch (ConfigException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    String httpRefusal = HttpEndpoint.refusal(httpAddress, tls, insecure);
    if (httpRefusal != null) {
      System.err.println("snakepit: " + httpRefusal);
      return 2;
    }
    String httpWarning = HttpEndpoint.insecureWarning(httpAddress, tls, insecure);
    if (httpWarning != null) {
      System.err.println(httpWarning);
    }
    // A token given to share is checked before anything starts: a bad one leaves no worker behind.
    Path sharedTokenFile;
    String sharedToken;
    try {
      sharedTokenFile = sharedTokenFile(config);
      sharedToken = sharedTokenFile == null ? null
          : GatewayToken.given(sharedTokenFile, tokenFileGiven != null ? "--token-file" : TOKEN_FILE);
    } catch (ConfigException | IllegalArgumentException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      return 1;
    }
    Path data = Path.of(config.getString("snakepit.data-dir"));
    try {
      DataDirectory.prepare(data).ifPresent(w -> System.err.println("snakepit: warning: " + w));
    } catch (RuntimeException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      return 1;
    }
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
    // From here a SIGUSR2 (snakepit detach) is kept until the node is ready, rather than ending the JVM.
    PlannedRestart restart = PlannedRestart.install();
    String instanceName = config.getString("snakepit.instance");
    // --take-over: the old node lets go as late as this node allows. A clustered node's actor system binds the
    // cluster port the old node holds, so it waits before the system starts; a node alone after it started.
    AtomicReference<LockHolder.Found> tookOver = new AtomicReference<>();
    if (takeOver && cluster.isPresent()) {
      Integer failed = takeOver(data, instanceName, tookOver);
      if (failed != null) {
        return failed;
      }
    }
    long startedAt = System.nanoTime();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), SYSTEM, config);
    if (takeOver && cluster.isEmpty()) {
      // Before Snakepit.get below: the node takes the instance lock as it opens its registry.
      Integer failed = takeOver(data, instanceName, tookOver);
      if (failed != null) {
        terminate(system);
        return failed;
      }
    }
    // Akka joins the seeds in the background while the node settles and starts its workers.
    Membership membership = cluster.map(c -> Membership.of(system, c)).orElse(null);
    // Bound before the node starts, so that its first workers are counted.
    PrometheusMeterRegistry registry = httpAddress == null ? null
        : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    NodeMetrics metrics = registry == null ? null : NodeMetrics.bind(system, registry);
    Dashboard dashboard = httpAddress == null ? null : Dashboard.bind(system, dashboardSettings);
    Snakepit snakepit;
    // The HTTP endpoint's token check, once the token is written; it serves from here on, /health saying how far.
    AtomicReference<GatewayAuth> httpAuth = new AtomicReference<>();
    // What status answers: this node's pools and workers, or on a clustered node every node's.
    Supplier<CompletionStage<String>> status;
    try {
      snakepit = Snakepit.get(system);
      // The instance lock is ours (taken as the registry opened): say that this node takes a planned restart.
      if (config.getBoolean("snakepit.registry.enabled")) {
        LockHolder.markServe(data, instanceName);
      }
      Snakepit node = snakepit;
      if (membership != null) {
        ClusterStatus clusterStatus = ClusterStatus.start(system, node::status, ClusterStatus.timeout(config));
        status = clusterStatus::json;
      } else {
        status = () -> CompletableFuture.completedFuture(node.status().toJson());
      }
      if (httpAddress != null) {
        serveHttp(system, httpAddress, tls, httpAuth, registry, snakepit, metrics, dashboard, membership, status);
      }
      Settlement settled = snakepit.settlement().toCompletableFuture().get();
      if (settled != null) {
        System.out.println(settled.summary());
        System.out.flush();
      }
      snakepit.ready().toCompletableFuture().get();
      if (membership != null) {
        membership.awaitUp(startedAt);
      }
    } catch (TimeoutException e) {
      System.err.println("snakepit: the node could not start: " + e.getMessage());
      terminate(system);
      return 1;
    } catch (ExecutionException | RuntimeException e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      System.err.println("snakepit: the node could not start: " + cause.getMessage());
      terminate(system);
      return 1;
    } catch (IOException e) {
      System.err.println("snakepit: " + e.getMessage());
      terminate(system);
      return 1;
    }
    // The token is written only now: the instance lock is ours, so no live node's token is replaced. A token given
    // in a file is the operator's: the node neither writes nor removes that file.
    boolean ownToken = sharedTokenFile == null;
    Path tokenFile = ownToken
        ? GatewayToken.file(data, config.getString("snakepit.instance")).toAbsolutePath().normalize()
        : sharedTokenFile;
    GatewayAuth auth;
    Gateway gateway;
    // On a clustered node the gateway also serves other nodes' pools, which take pool-defaults' size unless set.
    long otherNodesMessageSize = cluster.isPresent()
        ? config.getBytes("snakepit.pool-defaults.max-message-size") : 0;
    try {
      String token = ownToken ? GatewayToken.create(tokenFile) : sharedToken;
      auth = new GatewayAuth(token, tokenFile, !ownToken);
      try {
        gateway = Gateway.start(listens, tls, new GatewayService(snakepit, outOfMemory, status), auth,
            GatewayService.maxRequestSize(snakepit, otherNodesMessageSize), outOfMemory);
      } catch (IOException e) {
        if (ownToken) {
          Files.deleteIfExists(tokenFile);
        }
        throw e;
      }
    } catch (IOException e) {
      System.err.println("snakepit: " + e.getMessage());
      terminate(system);
      return 1;
    }
    Duration window;
    try {
      window = adoptWindow(config);
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("snakepit: " + e.getMessage());
      gateway.stop();
      if (ownToken) {
        Files.deleteIfExists(tokenFile);
      }
      terminate(system);
      return 2;
    }
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "snakepit-gateway",
        () -> CompletableFuture.supplyAsync(() -> {
          gateway.stop();
          try {
            if (ownToken) {
              Files.deleteIfExists(tokenFile);
            }
          } catch (IOException e) {
            system.log().warn("cannot remove the gateway token {}: {}", tokenFile, e.getMessage());
          }
          return akka.Done.getInstance();
        }));
    if (httpAddress != null) {
      httpAuth.set(auth);
    }
    PoolSettings pool = Node.get(system).pools().stream().map(Node.PoolEntry::settings)
        .filter(p -> p.name().equals(POOL)).findFirst().orElseThrow();
    System.out.println("ready: " + pool.workers() + " workers of " + pool.worker().adapter()
        + ", gateway on " + gateway.describe() + ", isolation " + pool.worker().isolation().mode().configName()
        + adopted(Node.get(system)) + ", token in " + tokenFile
        + (membership == null ? "" : ", " + membership.describe()));
    System.out.flush();
    if (tookOver.get() != null && Node.get(system).adopted().count() == 0) {
      System.err.println("snakepit: warning: --take-over: node pid " + tookOver.get().pid() + " exited but left no"
          + " worker waiting for this node (its detach failed: its own output says why); every worker here started"
          + " anew");
    }
    restart.arm(system, gateway, window);
    system.getWhenTerminated().toCompletableFuture().get();
    CoordinatedShutdown.Reason reason = CoordinatedShutdown.get(system).getShutdownReason().orElse(null);
    if (reason instanceof CoordinatedShutdown.ClusterDowningReason$
        || reason instanceof CoordinatedShutdown.ClusterLeavingReason$) {
      System.err.println("snakepit: the node stopped: " + (reason instanceof CoordinatedShutdown.ClusterDowningReason$
          ? "the cluster downed it (the split brain resolver kept another side, or an operator downed it)"
          : "it left the cluster") + "; its workers stopped with it. Start it again to rejoin");
      return 5;
    }
    // A node that stopped itself because its journal failed writes exits non-zero: its service manager restarts it.
    if (CoordinatedShutdown.get(system).getShutdownReason().orElse(null)
        instanceof Registry.JournalOutage outage) {
      System.err.println("snakepit: the node stopped: " + outage.message());
      return 3;
    }
    return 0;
  }

  /**
   * The file of the token the operator gave the node ({@code --token-file}, {@code snakepit.gateway.token-file},
   * relative to the file that set it), absolute, or null when the node makes its own.
   */
  private static Path sharedTokenFile(Config config) {
    if (config.getString(TOKEN_FILE).isBlank()) {
      return null;
    }
    Config snakepit = config.getConfig("snakepit");
    return SettingPaths.of(snakepit).path(snakepit, "gateway.token-file").toAbsolutePath().normalize();
  }

  /**
   * --take-over: asks the node holding the instance lock to detach and waits until it has exited; null to go on (it
   * exited, or no node runs there: a plain start), else the exit status, the error printed.
   */
  private static Integer takeOver(Path data, String instance, AtomicReference<LockHolder.Found> tookOver)
      throws IOException, InterruptedException {
    LockHolder.Found old = LockHolder.detach(data, instance);
    if (old.exit() == LockHolder.NONE) {
      System.out.println("taking over: " + old.error() + "; a plain start");
      System.out.flush();
      return null;
    }
    if (!old.signalled()) {
      System.err.println("snakepit: --take-over: " + old.error());
      return old.exit();
    }
    long asked = System.nanoTime();
    System.out.println("taking over: node pid " + old.pid() + " detaching");
    System.out.flush();
    if (!LockHolder.awaitExit(old, Duration.ofSeconds(TAKE_OVER_LIMIT_SECONDS))) {
      System.err.println("snakepit: --take-over: node pid " + old.pid() + " did not exit within "
          + TAKE_OVER_LIMIT_SECONDS + " s of being asked to detach (SIGUSR2); its own output says how far the detach"
          + " got. This node did not start: once that node has exited, start serve again (with --take-over, or"
          + " without: its workers wait the adopt-window)");
      return 1;
    }
    System.out.println("taking over: node pid " + old.pid() + " exited after "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked) + " ms");
    System.out.flush();
    tookOver.set(old);
    return null;
  }

  /** snakepit.adopt-window, checked: from 1 ms to what the shim takes (2^31 - 1 ms). */
  static Duration adoptWindow(Config config) {
    Duration window = config.getDuration("snakepit.adopt-window");
    if (window.isNegative() || window.isZero() || window.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("snakepit.adopt-window (--adopt-window) is " + window.toMillis()
          + " ms: give a duration from 1ms to 24d, e.g. 60s");
    }
    return window;
  }

  /** Starts the HTTP endpoint, stopped with the node, and prints where it listens. */
  private static void serveHttp(ActorSystem<Void> system, Endpoint.Tcp address, Gateway.Tls tls,
      AtomicReference<GatewayAuth> auth, PrometheusMeterRegistry registry, Snakepit snakepit, NodeMetrics metrics,
      Dashboard dashboard, Membership membership, Supplier<CompletionStage<String>> status) throws IOException {
    // The status is bounded (on a clustered node by snakepit.cluster.status-timeout per node): waiting is safe.
    HttpEndpoint endpoint = HttpEndpoint.start(address, tls, auth::get, registry::scrape,
        () -> health(snakepit, metrics, membership), () -> status.get().toCompletableFuture().join(), dashboard);
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "snakepit-http",
        () -> CompletableFuture.supplyAsync(() -> {
          endpoint.stop();
          return akka.Done.getInstance();
        }));
    System.out.println("http: /metrics, /health and the dashboard / on " + endpoint.describe()
        + (endpoint.tokenRequired() ? ", with the gateway's token" : ""));
    System.out.flush();
  }

  /**
   * The node's health for {@code /health}: ready while every pool has a worker that takes calls and the journal
   * takes writes; the JSON says, per pool, how many workers are ready and starting, and on a clustered node, under
   * {@code cluster}, its address and status and every member's (readiness does not depend on it).
   */
  private static HttpEndpoint.Health health(Snakepit snakepit, NodeMetrics metrics, Membership membership) {
    ObjectMapper json = new ObjectMapper();
    ObjectNode body = json.createObjectNode();
    ObjectNode pools = json.createObjectNode();
    boolean ready = true;
    for (String name : new TreeSet<>(snakepit.pools().keySet())) {
      int serving = metrics.workers(name, NodeMetrics.State.IDLE) + metrics.workers(name, NodeMetrics.State.BUSY)
          + metrics.workers(name, NodeMetrics.State.RETIRING);
      ready &= serving > 0;
      pools.putObject(name).put("ready", serving).put("starting", metrics.workers(name, NodeMetrics.State.STARTING));
    }
    String outage = snakepit.journalOutage().orElse(null);
    ready &= outage == null;
    body.put("status", ready ? "ready" : "unavailable");
    body.set("pools", pools);
    if (outage != null) {
      body.put("journal", outage);
    }
    if (membership != null) {
      body.set("cluster", membership.toJson(json));
    }
    return new HttpEndpoint.Health(ready, body.toString());
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

  /** serve's own defaults, under every file: the example adapter, and the snakepit script's Python. */
  private static Map<String, Object> defaults() {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("snakepit.pools." + POOL + ".adapter", NodeConfig.EXAMPLE_ADAPTER);
    String python = System.getenv(NodeConfig.DEFAULT_PYTHON_VARIABLE);
    if (python != null && !python.isBlank()) {
      c.put("snakepit.pool-defaults.python", python);
    }
    return c;
  }

  /** The flags' settings, over everything else. */
  private Map<String, Object> overrides() {
    Map<String, Object> c = new LinkedHashMap<>();
    String pool = "snakepit.pools." + POOL + ".";
    if (workers != null) {
      c.put(pool + "workers", workers);
    }
    if (adapter != null) {
      c.put(pool + "adapter", adapter);
    }
    if (python != null) {
      c.put(pool + "python", python);
    }
    if (http != null) {
      c.put("snakepit.http.address", http);
    }
    // Absolute, as a command-line path is relative to the working directory.
    if (tokenFileGiven != null) {
      c.put(TOKEN_FILE, tokenFileGiven.toAbsolutePath().normalize().toString());
    }
    if (clusterPort != null) {
      c.put(ClusterSettings.PORT, clusterPort);
    }
    if (clusterHost != null) {
      c.put(ClusterSettings.HOST, clusterHost);
    }
    if (!seeds.isEmpty()) {
      c.put(ClusterSettings.SEEDS, seeds.stream().map(String::trim).filter(x -> !x.isEmpty()).toList());
    }
    if (insecure) {
      c.put("snakepit.cluster.insecure", true);
    }
    // Absolute, as a command-line path is relative to the working directory.
    if (clusterTlsCert != null) {
      c.put("snakepit.cluster.tls.cert", clusterTlsCert.toAbsolutePath().normalize().toString());
    }
    if (clusterTlsKey != null) {
      c.put("snakepit.cluster.tls.key", clusterTlsKey.toAbsolutePath().normalize().toString());
    }
    if (clusterTlsCa != null) {
      c.put("snakepit.cluster.tls.ca", clusterTlsCa.toAbsolutePath().normalize().toString());
    }
    if (!pythonPath.isEmpty()) {
      c.put(pool + "python-path",
          pythonPath.stream().map(p -> p.toAbsolutePath().normalize().toString()).toList());
    }
    // Every pool's, and the pool default's too, so that a --config file's setting for that pool loses to the flag.
    for (String isolated : List.of("snakepit.pool-defaults.isolation.", pool + "isolation.")) {
      if (isolation != null) {
        c.put(isolated + "mode", isolation);
      }
      if (network != null) {
        c.put(isolated + "network", network);
      }
      if (memoryLimit != null) {
        c.put(isolated + "limits.memory", memoryLimit);
      }
      if (adoptWindow != null) {
      c.put("snakepit.adopt-window", adoptWindow);
    }
    if (pidsLimit != null) {
        c.put(isolated + "limits.pids", pidsLimit);
      }
      if (cpuLimit != null) {
        c.put(isolated + "limits.cpu", cpuLimit);
      }
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

  /**
   * The ready line's {@code , adopted N} (N workers of a planned restart serve again), written when workers waited
   * for this node; a start without any keeps the line it always had.
   */
  private static String adopted(Node node) {
    if (node.adopted().count() == 0 && node.adopted().refused().isEmpty()) {
      return "";
    }
    return ", adopted " + node.pools().stream().mapToInt(p -> p.link().adoptedReady()).sum();
  }
}
