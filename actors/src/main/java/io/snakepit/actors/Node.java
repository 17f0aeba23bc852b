package io.snakepit.actors;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import io.snakepit.NodeStatus;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.host.HostServer;
import io.snakepit.actors.pool.Adoptions;
import io.snakepit.actors.pool.LostCalls;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLink;
import io.snakepit.actors.pool.PoolRuntime;
import io.snakepit.actors.pool.PoolSettings;
import io.snakepit.actors.status.WorkerWatch;
import io.snakepit.actors.supervision.ChildSpec;
import io.snakepit.actors.supervision.Restart;
import io.snakepit.actors.supervision.ShutdownSpec;
import io.snakepit.actors.supervision.Strategy;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.worker.StopTimeline;
import io.snakepit.actors.worker.WorkerActor;
import io.snakepit.actors.worker.WorkerJournal;
import io.snakepit.actors.worker.WorkerRoster;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.RegistryClient;
import io.snakepit.persistence.Settlement;
import io.snakepit.persistence.SettlementReport;
import io.snakepit.python.WorkerPackage;
import io.snakepit.settings.SettingPaths;
import io.snakepit.shim.ShimBinary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.stream.Stream;

/**
 * One JVM's node, wired: the registry and its settlement, the supervision tree of every configured pool, the
 * workers' gRPC channels and run directory, the Host socket of the tool bridge, and their stop with the actor system. The public
 * {@code io.snakepit.Snakepit} is a facade over it; tests and tools in this project that must see the tree or the
 * full settlement report reach it through {@link #get(ActorSystem)}.
 *
 * <p>Started on first use, once per actor system. The pools stop, and every worker process with them, in the
 * {@code service-stop} phase of coordinated shutdown; if the JVM dies without that, each worker's shim sees its stdin
 * close and takes the worker's process tree down.
 */
public final class Node implements Extension {

  /** The extension's id; {@link #get(ActorSystem)} is the usual way in. */
  public static final class Id extends ExtensionId<Node> {
    private static final Id INSTANCE = new Id();

    private Id() {}

    @Override
    public Node createExtension(ActorSystem<?> system) {
      return new Node(system);
    }
  }

  /** One configured pool: its settings, and the link its handle sends through. */
  public record PoolEntry(PoolSettings settings, PoolLink link) {}

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Node.class);
  /** The settlement's line at every start, under a name of its own: a log watcher or `serve` may route it apart. */
  private static final org.slf4j.Logger SETTLEMENT = org.slf4j.LoggerFactory.getLogger("io.snakepit.settlement");
  private static final String NUPROCESS_HOOK = "com.zaxxer.nuprocess.enableShutdownHook";
  /** The largest host call's arguments on a node without pools (a pool's max-message-size otherwise). */
  private static final int HOST_MESSAGE_SIZE = 4 * 1024 * 1024;

  private final List<PoolEntry> pools = new ArrayList<>();
  private final CompletionStage<SettlementReport> settlement;
  /** The run directories of earlier JVMs whose workers this node adopted; removed with its own. */
  private final List<Path> adoptedRunDirs = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile Adoptions adopted = Adoptions.none();
  /** Set by {@link #detach}: the run directory stays for the detached shims' control sockets. */
  private volatile boolean detached;
  private final ActorRef<Supervisor.Command> root;
  private final Path runDir;
  private final WorkerTransport transport;
  private final Registry registry;
  private final AuditLog audit;
  private final WorkerWatch watch;
  private final HostServer host;
  private final WorkerRoster roster = new WorkerRoster();
  private final ActorSystem<?> system;

  /** The node of {@code system}, started on first use. */
  public static Node get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** Whether {@code system}'s node has started (without starting it). */
  public static boolean started(ActorSystem<?> system) {
    return system.hasExtension(Id.INSTANCE);
  }

  private Node(ActorSystem<?> system) {
    this.system = system;
    // NuProcess's own shutdown hook stops its event threads, so exits would go unreported while coordinated
    // shutdown stops the workers. Must be set before NuProcess starts its first process.
    if (System.getProperty(NUPROCESS_HOOK) == null) {
      System.setProperty(NUPROCESS_HOOK, "false");
    }
    Config config = system.settings().config().getConfig("snakepit");
    SettingPaths paths = SettingPaths.of(config);
    Path cacheDir = cacheDir(config, paths);
    String instance = config.getString("instance");
    this.runDir = RunDirectory.create(config.getString("run-dir").isEmpty() ? ""
        : paths.path(config, "run-dir").toString(), instance);
    this.transport = new WorkerTransport(OutOfMemory.fromConfig(system.settings().config()));
    system.systemActorOf(LostCalls.create(), "snakepit-lost-calls", Props.empty());
    // A pool set to null (snakepit.pools.x = null) is not started: a later file can take back an earlier one's pool.
    // HOCON keeps no key order: pools start (and stop in reverse) in name order.
    List<PoolSettings> settings = config.getObject("pools").entrySet().stream()
        .filter(e -> e.getValue().valueType() != ConfigValueType.NULL).map(Map.Entry::getKey).sorted()
        .map(name -> PoolSettings.fromConfig(name, config, paths)).toList();
    WorkerWatch.interval(config); // refused before anything is opened, as a pool's bad setting is
    HostServer.Settings hostSettings = HostServer.Settings.fromConfig(config);
    Registry registry = config.getBoolean("registry.enabled") ? Registry.open(system, config, paths) : null;
    // After the registry's checks of data-dir, before the settlement below: the log has what it settles.
    this.audit = AuditLog.start(system, config, paths).orElse(null);
    paths.report().ifPresent(line -> LOG.info("{}", line));
    this.registry = registry;
    WorkerJournal journal = registry == null ? WorkerJournal.none() : WorkerJournal.of(registry);
    PoolRuntime runtime = new PoolRuntime(ShimBinary.extract(cacheDir), WorkerPackage.unpack(cacheDir), runDir,
        instance, transport, journal);
    // Adopt what a planned restart left waiting, then settle the rest of what earlier JVMs of this instance left,
    // before the first new worker is spawned.
    CompletableFuture<SettlementReport> settled = new CompletableFuture<>();
    this.settlement = settled;
    Events events = Events.of(system);
    settlement.whenComplete((report, error) -> {
      if (report != null) {
        SETTLEMENT.info(report.summary());
        publish(report, events);
      }
    });
    // Up before the first worker starts: a tool may call the host from its adapter's setup().
    this.host = HostServer.start(runDir.resolve(Launch.HOST_SOCKET), hostSettings, settings.stream()
        .mapToInt(p -> p.worker().maxMessageSize()).max().orElse(HOST_MESSAGE_SIZE));
    List<ChildSpec<?>> poolSpecs = new ArrayList<>();
    for (PoolSettings s : settings) {
      PoolLink link = new PoolLink(settlement);
      pools.add(new PoolEntry(s, link));
      poolSpecs.add(poolSupervisor(s, runtime, link, roster));
    }
    if (registry == null) {
      settled.complete(null);
    } else {
      registry.client().open()
          .thenApplyAsync(open -> Adoptions.attach(open, settings, runtime), system.dispatchers().lookup(
              DispatcherSelector.fromConfig("snakepit.blocking-dispatcher")))
          .thenCompose(adopted -> {
            takeOver(adopted);
            return registry.settle(false, adopted.nonces());
          })
          .whenComplete((report, error) -> {
            if (error != null) {
              settled.completeExceptionally(error);
            } else {
              settled.complete(report);
            }
          });
    }
    // Before the first worker is reserved: the watch sees every worker from its start.
    this.watch = WorkerWatch.start(system, pools.stream().map(p -> new WorkerWatch.Pool(p.settings(), p.link()))
        .toList());
    // The node's tree: root (one_for_one) -> per pool (rest_for_one: coordinator, then its worker supervisor).
    this.root = system.systemActorOf(Supervisor.create(Strategy.ONE_FOR_ONE, 5, Duration.ofMinutes(1), poolSpecs),
        "snakepit", Props.empty());
    // The workers' exits must be journaled before the registry closes the journal (in before-actor-system-terminate,
    // Registry.closeJournalOnStop), or the next start would find their entries open.
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceStop(), "snakepit-stop-pools",
        () -> AskPattern.<Supervisor.Command, Done>ask(root, Supervisor.Shutdown::new, Duration.ofMinutes(5),
            system.scheduler()).thenCompose(done -> journal.drained().thenApply(drained -> done)));
    system.getWhenTerminated().whenComplete((done, error) -> {
      host.close();
      transport.close();
      if (!detached) {
        deleteRunDir(runDir);
        adoptedRunDirs.forEach(Node::deleteRunDir);
      } // else the detached shims' control sockets are in it; the next start removes it (RunDirectory.removeStale)
    });
  }

  /**
   * What a settlement did, as events: each entry closed or skipped, and what was wrong with the journal. The node's
   * start publishes its own; {@code snakepit reap} hands them to the reaped instance's audit log.
   */
  public static void publish(SettlementReport report, Events events) {
    Instant now = Instant.now();
    for (SettlementReport.Row row : report.rows()) {
      int pid = row.entry().spawned() == null ? 0 : row.entry().spawned().identity().pid();
      if (row.how() == Settlement.IMPOSTOR || !row.impostors().isEmpty()) {
        events.publish(new SnakepitEvent.ImpostorSkipped(now, events.instance(), row.entry().workerId(), pid,
            row.impostors()));
      }
      if (row.how() != null && row.how() != Settlement.IMPOSTOR) {
        events.publish(new SnakepitEvent.OrphanSettled(now, events.instance(), row.entry().workerId(), pid,
            row.how().name().toLowerCase(Locale.ROOT), report.dryRun() ? List.of() : row.processes(),
            row.detail()));
      }
    }
    report.journalWarnings().forEach(w -> events.publish(new SnakepitEvent.JournalDamaged(now, events.instance(), w)));
  }

  /**
   * A planned restart's part here (docs/ADOPTION.md): every ready worker stops taking calls, lets those in flight end
   * within its stop grace, and is journaled as detached; once all are, each is left running for a next node for
   * {@code window}. The node is
   * to exit next (its actor system terminated); the detached workers' actors then end without touching their trees.
   * Completes with one outcome per worker that was ready (kept, or why not: such a worker stops with the node).
   */
  public CompletionStage<List<WorkerActor.DetachOutcome>> detach(Duration window) {
    detached = true;
    Duration grace = pools.stream().map(p -> p.settings().worker().stopGrace()).max(Duration::compareTo)
        .orElse(Duration.ZERO);
    Duration timeout = grace.plus(Duration.ofSeconds(15)); // DETACH, the journal's write and LEAVE: a few ms
    // Every worker is prepared (drained, its shim listening, journaled) before any is let go: a node killed while
    // one worker still drains must take every tree down, the prepared ones included.
    List<ActorRef<WorkerActor.Command>> workers = roster.workers();
    List<CompletableFuture<WorkerActor.DetachOutcome>> prepared = workers.stream()
        .map(worker -> ask(worker, reply -> new WorkerActor.Detach(window, reply), timeout)).toList();
    return CompletableFuture.allOf(prepared.toArray(CompletableFuture[]::new)).thenCompose(all -> {
      List<CompletableFuture<WorkerActor.DetachOutcome>> left = new ArrayList<>();
      for (int i = 0; i < workers.size(); i++) {
        WorkerActor.DetachOutcome p = prepared.get(i).join();
        left.add(p.kept() ? ask(workers.get(i), WorkerActor.Leave::new, timeout)
            : CompletableFuture.completedFuture(p));
      }
      return CompletableFuture.allOf(left.toArray(CompletableFuture[]::new))
          .thenApply(done -> left.stream().map(CompletableFuture::join).toList());
    });
  }

  private CompletableFuture<WorkerActor.DetachOutcome> ask(ActorRef<WorkerActor.Command> worker,
      akka.japi.function.Function<ActorRef<WorkerActor.DetachOutcome>, WorkerActor.Command> message,
      Duration timeout) {
    return AskPattern.ask(worker, message, timeout, system.scheduler()).toCompletableFuture()
        .exceptionally(error -> new WorkerActor.DetachOutcome(worker.path().name(), false,
            "no answer within " + timeout.toSeconds() + " s"));
  }

  /** The configured pools, in name order (the order they start in). */
  public List<PoolEntry> pools() {
    return List.copyOf(pools);
  }

  /**
   * The settlement of what earlier JVMs of this instance left, done before any worker started; completes with null
   * when the registry is turned off (snakepit.registry.enabled = off).
   */
  public CompletionStage<SettlementReport> settlement() {
    return settlement;
  }

  /**
   * Why no worker can be started now: the registry's journal has been failing writes (with since when and what to
   * check); empty while it takes them, or when the registry is turned off.
   */
  public Optional<String> journalOutage() {
    return registry == null ? Optional.empty() : registry.outage().map(RegistryClient.Outage::describe);
  }

  /** The node's audit log; empty when it is turned off (snakepit.audit.enabled = off). */
  public Optional<AuditLog> audit() {
    return Optional.ofNullable(audit);
  }

  /** What the node's pools and workers are doing now. */
  public NodeStatus status() {
    return watch.status();
  }

  /** The node's end of the tool bridge: the host tools Python calls, on host.sock in the run directory. */
  public HostServer hostTools() {
    return host;
  }

  /** The node's view of its workers: their state, resources and health. */
  public WorkerWatch watch() {
    return watch;
  }

  /** The root of the node's supervision tree (for inspection: WhichChildren, CountChildren). */
  public ActorRef<Supervisor.Command> supervisor() {
    return root;
  }

  /**
   * One pool's supervisor: its coordinator first, then the simple_one_for_one supervisor of its workers (rest_for_one:
   * a new coordinator gets new workers). A worker's shutdown spec gives its shim the stop grace, then a margin, before
   * the actor is stopped outright (its shim then takes the tree down on stdin EOF).
   */
  private static ChildSpec<Supervisor.Command> poolSupervisor(PoolSettings s, PoolRuntime runtime, PoolLink link,
      WorkerRoster roster) {
    StopTimeline stop = StopTimeline.of(s.worker());
    ChildSpec<PoolActor.Command> coordinator = ChildSpec.worker("coordinator",
            () -> PoolActor.create(s, runtime, link))
        .withShutdown(ShutdownSpec.timeout(stop.poolShutdown()))
        .withStopMessage(PoolActor.Stop.INSTANCE);
    ChildSpec<WorkerActor.Command> worker = ChildSpec.template("worker", PoolActor.WorkerStart.class,
            (PoolActor.WorkerStart start) -> WorkerActor.create(start.launch(), start.events(),
                runtime.connections(), runtime.journal(), roster, start.adoption()))
        .withRestart(Restart.TEMPORARY)
        .withShutdown(ShutdownSpec.timeout(stop.workerShutdown()))
        .withStopMessage(WorkerActor.Stop.WITH_SNAPSHOT);
    ChildSpec<Supervisor.Command> workers = ChildSpec.supervisor("workers", () -> Behaviors.setup(ctx -> {
      link.workersUp(ctx.getSelf());
      return Supervisor.create(Strategy.SIMPLE_ONE_FOR_ONE, 10, Duration.ofMinutes(1), List.of(worker));
    }));
    return ChildSpec.supervisor("pool-" + s.name().replaceAll("[^A-Za-z0-9_-]", "_"), Strategy.REST_FOR_ONE, 3,
        Duration.ofMinutes(1), List.of(coordinator, workers));
  }

  private static Path cacheDir(Config config, SettingPaths paths) {
    if (!config.getString("cache-dir").isEmpty()) {
      return paths.path(config, "cache-dir");
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isEmpty()) {
      return Path.of(xdg, "snakepit");
    }
    return Path.of(System.getProperty("user.home"), ".cache", "snakepit");
  }

  /**
   * Hands each pool its adopted workers, and points the Host socket of each earlier run directory they live in at
   * this node's (their SNAKEPIT_HOST_SOCKET names the old path), which this node then removes as it ends.
   */
  private void takeOver(Adoptions adopted) {
    this.adopted = adopted;
    for (PoolEntry pool : pools) {
      pool.link().adopt(adopted.byPool().getOrDefault(pool.settings().name(), List.of()));
    }
    for (Path dir : adopted.runDirectories()) {
      if (dir.equals(runDir)) {
        continue;
      }
      adoptedRunDirs.add(dir);
      Path hostSocket = dir.resolve(Launch.HOST_SOCKET);
      try {
        RunDirectory.markAdopted(dir);
        Files.deleteIfExists(hostSocket);
        Files.createSymbolicLink(hostSocket, runDir.resolve(Launch.HOST_SOCKET));
      } catch (IOException e) {
        LOG.warn("the adopted workers in {} cannot reach this node's host tools: {}", dir, e.getMessage());
      }
    }
  }

  /** What the node adopted at its start from a planned restart (none until its settlement began). */
  public Adoptions adopted() {
    return adopted;
  }

  private static void deleteRunDir(Path runDir) {
    try (Stream<Path> paths = Files.walk(runDir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // Leftover socket files harm nothing; the next start uses a new directory.
    }
  }
}
