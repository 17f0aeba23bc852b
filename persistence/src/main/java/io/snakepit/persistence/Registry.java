package io.snakepit.persistence;

import akka.Done;
import akka.actor.Cancellable;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.eventstream.EventStream;
import com.typesafe.config.Config;
import io.snakepit.settings.SettingPaths;
import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * One node's registry: it holds the instance lock for the JVM's life, owns the journal of (host, instance), and
 * settles what earlier incarnations left before any new worker is spawned.
 */
public final class Registry implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Registry.class);
  /** How long a stopping node waits for the deletions that follow a snapshot before it closes the journal. */
  private static final Duration HOUSEKEEPING_LIMIT = Duration.ofSeconds(2);
  private final InstanceLock lock;
  /** The claim on the persistence id in a shared PostgreSQL journal; null with any other journal. */
  private volatile JournalLease lease;
  private final RegistryClient client;
  private final String instance;
  private final String incarnation = UUID.randomUUID().toString().substring(0, 8);
  private final Reaper reaper;
  private final Executor blocking;
  private final ActorSystem<?> system;

  private final List<String> journalWarnings;
  /** Each pool's journal of its slots' states, started when first used. */
  private final Map<String, ActorRef<SlotStates.Command>> states = new ConcurrentHashMap<>();
  private final Set<CompletableFuture<Done>> stateWrites = ConcurrentHashMap.newKeySet();
  private Duration writeTimeout = Duration.ofSeconds(10);
  private Duration readTimeout = Duration.ofSeconds(30);
  /** Set once the journal is being closed: no write of the registry's own is sent after it. Guarded by this. */
  private boolean closing;
  private final String journal;

  private Registry(ActorSystem<?> system, InstanceLock lock, RegistryClient client, String instance, Reaper reaper,
      Executor blocking, List<String> journalWarnings, String journal) {
    this.system = system;
    this.lock = lock;
    this.client = client;
    this.instance = instance;
    this.reaper = reaper;
    this.blocking = blocking;
    this.journalWarnings = journalWarnings;
    this.journal = journal;
  }

  /**
   * Takes the instance lock, prepares the journal and starts the registry actor.
   *
   * @param snakepit the {@code snakepit} block of the system's configuration
   * @throws IllegalStateException if another live JVM holds this instance's lock, or the journal is unusable
   */
  public static Registry open(ActorSystem<?> system, Config snakepit) {
    return open(system, snakepit, SettingPaths.of(snakepit));
  }

  /**
   * As {@link #open(ActorSystem, Config)}, resolving a relative data-dir with {@code paths}.
   *
   * @throws IllegalArgumentException if data-dir is relative and nothing says what to, or the embedded journal's URL
   *     would point elsewhere than data-dir
   */
  public static Registry open(ActorSystem<?> system, Config snakepit, SettingPaths paths) {
    JacksonFloor.require();
    String instance = instanceName(snakepit);
    Path dataDir = paths.path(snakepit, "data-dir");
    Config registry = snakepit.getConfig("registry");
    JournalSchema.requireAbsoluteFile(registry.getString("db.url"), snakepit.getString("data-dir"), dataDir);
    OrphanPolicy policy = OrphanPolicy.fromConfig(registry);
    DataDirectory.prepare(dataDir).ifPresent(warning -> system.log().warn(warning));
    InstanceLock lock = InstanceLock.acquire(dataDir, instance);
    // Processes started from now on are this JVM's: only older ones can be what an earlier one left.
    long openedAt = ProcStat.nowTicks();
    JournalLease lease = null;
    try {
      Config db = registry.getConfig("db");
      JournalSchema.requireNoCloseOnExit(db.getString("url"));
      JournalSchema.requireAppendOnly(db.getString("url"));
      lease = JournalLease.acquire(db.getString("url"), db.getString("user"), db.getString("password"),
          WorkerRegistry.persistenceId(host(), instance).id()).orElse(null);
      List<String> journalWarnings = new ArrayList<>();
      JournalSchema.ensureOrSetAside(db.getString("url"), db.getString("user"), db.getString("password"))
          .ifPresent(journalWarnings::add);
      JournalSchema.compactIfLarger(db.getString("url"), db.getString("user"), db.getString("password"),
          registry.getBytes("compact-above")).ifPresent(line -> system.log().info(line));
      DataDirectory.restrictFiles(dataDir, "registry-" + instance + "."); // H2 made them with the umask's mode
      Config outage = registry.getConfig("outage");
      ActorRef<WorkerRegistry.Command> actor = system.systemActorOf(
          WorkerRegistry.create(host(), instance, registry.getInt("snapshot-every"), registry.getInt("keep-snapshots"),
              outage.getDuration("restart-backoff.min"), outage.getDuration("restart-backoff.max")),
          "snakepit-registry", Props.empty());
      RegistryClient client = new RegistryClient(actor, system, registry.getDuration("ask-timeout"),
          registry.getDuration("recovery-timeout"),
          registry.getInt("max-in-flight"), registry.getInt("batch-size"));
      Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
      Reaper reaper = new Reaper(instance, BootId.current(), policy, lock.identity(), openedAt);
      Registry r = new Registry(system, lock, client, instance, reaper, blocking, journalWarnings,
          JournalSchema.h2File(db.getString("url")).map(Path::toString)
              .orElse(db.getString("url").split("\\?", 2)[0])); // a URL's query may hold a password
      r.lease = lease;
      r.writeTimeout = registry.getDuration("ask-timeout");
      r.readTimeout = registry.getDuration("recovery-timeout");
      r.watchOutages(outage.getDuration("probe-interval"), outage.getDuration("exit-after"));
      r.closeJournalOnStop(db);
      system.getWhenTerminated().whenComplete((done, error) -> r.close());
      return r;
    } catch (RuntimeException e) {
      if (lease != null) {
        lease.close();
      }
      lock.close();
      throw e;
    }
  }

  /** The instance name, checked: it goes into file names and database URLs. */
  public static String instanceName(Config snakepit) {
    String instance = snakepit.getString("instance");
    if (!instance.matches("[A-Za-z0-9_.-]{1,64}")) {
      throw new IllegalArgumentException("snakepit.instance is '" + instance + "': use 1 to 64 letters, digits,"
          + " '.', '_' or '-'");
    }
    return instance;
  }

  /** This host's name, as the kernel has it. */
  public static String host() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException e) {
      return "localhost";
    }
  }

  /** Journals workers. */
  public RegistryClient client() {
    return client;
  }

  /** The adapters' states kept for pool {@code pool}'s slots, by slot index (empty for none). */
  public CompletionStage<Map<Integer, byte[]>> loadStates(String pool) {
    return AskPattern.ask(states(pool), SlotStates.Load::new, readTimeout, system.scheduler());
  }

  /** Journals {@code state} as slot {@code slot}'s of pool {@code pool} (null forgets it); completes once durable. */
  public CompletionStage<Done> keepState(String pool, int slot, byte[] state) {
    CompletableFuture<Done> written = AskPattern.ask(states(pool),
        (ActorRef<Done> replyTo) -> new SlotStates.Keep(slot, state, replyTo), writeTimeout, system.scheduler())
        .toCompletableFuture();
    stateWrites.add(written);
    written.whenComplete((done, error) -> stateWrites.remove(written));
    return written;
  }

  /** Completes once every state write asked for so far has ended (or failed): a node's stop waits for it. */
  public CompletionStage<Void> statesDrained() {
    if (stateWrites.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    // A write that ends may start the next state of its slot: wait for that one too.
    return CompletableFuture.allOf(stateWrites.toArray(CompletableFuture[]::new))
        .handle((done, error) -> null).thenCompose(done -> statesDrained());
  }

  private ActorRef<SlotStates.Command> states(String pool) {
    return states.computeIfAbsent(pool, name -> system.systemActorOf(SlotStates.create(host(), instance, name),
        "snakepit-states-" + URLEncoder.encode(name, StandardCharsets.UTF_8), Props.empty()));
  }

  /** This JVM's incarnation id, recorded with every worker it reserves. */
  public String incarnation() {
    return incarnation;
  }

  /**
   * Why the node stopped itself: its journal failed writes for longer than {@code snakepit.registry.outage.exit-after}.
   * A service manager that restarts the node gives it a fresh start once the storage is back.
   *
   * @param message what failed, since when, and what to check
   */
  public record JournalOutage(String message) implements CoordinatedShutdown.Reason {}

  /**
   * While the journal fails writes: probe it every {@code interval} (a registry restarted after a failure takes
   * writes again only when one is tried), and past {@code exitAfter} (unless zero) stop the node with
   * {@link JournalOutage} rather than let it limp without a record of its workers.
   */
  private void watchOutages(Duration interval, Duration exitAfter) {
    AtomicBoolean probing = new AtomicBoolean();
    AtomicBoolean stopping = new AtomicBoolean();
    Cancellable watch = system.scheduler().scheduleWithFixedDelay(interval, interval, () -> {
      RegistryClient.Outage outage = client.outage().orElse(null);
      if (outage == null || stopping.get()) {
        return;
      }
      if (!exitAfter.isZero() && System.currentTimeMillis() - outage.since() > exitAfter.toMillis()
          && stopping.compareAndSet(false, true)) {
        String why = outage.describe() + "; stopping the node after snakepit.registry.outage.exit-after = "
            + exitAfter.toSeconds() + " s";
        LOG.error("{}", why);
        CoordinatedShutdown.get(system).run(new JournalOutage(why));
        return;
      }
      if (probing.compareAndSet(false, true)) {
        unlessClosing(client::probe).whenComplete((done, error) -> probing.set(false));
      }
    }, system.executionContext());
    system.getWhenTerminated().whenComplete((done, error) -> watch.cancel());
  }

  /**
   * The node closes its journal itself, in coordinated shutdown's {@code before-actor-system-terminate} phase: after
   * {@code service-stop} (where the pools stop and their workers' exits are written), and once every command sent to
   * the registry is answered. H2's own shutdown hook is off ({@link JournalSchema#requireNoCloseOnExit}), so nothing
   * closes the database under a write; the instance lock is released after it, once the actor system is gone.
   */
  private void closeJournalOnStop(Config db) {
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
        "snakepit-close-journal", () -> {
          synchronized (this) {
            closing = true;
          }
          return client.drained().thenCompose(drained -> client.housekeepingDone(HOUSEKEEPING_LIMIT))
              .thenApplyAsync(done -> closeJournal(db), blocking);
        });
  }

  private akka.Done closeJournal(Config db) {
    long start = System.nanoTime();
    try {
      JournalSchema.close(db.getString("url"), db.getString("user"), db.getString("password"));
      LOG.debug("closed the journal {} in {} ms", journal, (System.nanoTime() - start) / 1_000_000);
    } catch (IllegalStateException e) {
      LOG.warn("{}", e.getMessage());
    }
    return akka.Done.getInstance();
  }

  /**
   * Sends a write of the registry's own (settlement, probes) unless the journal is being closed; the check and the
   * send are one step, so that a write either counts in the close's drain or is never sent.
   */
  private synchronized <T> CompletionStage<T> unlessClosing(Supplier<CompletionStage<T>> write) {
    if (closing) {
      return CompletableFuture.failedFuture(new IllegalStateException("the node is stopping: the worker registry's"
          + " journal " + journal + " is being closed"));
    }
    return write.get();
  }

  /** Whether the journal is failing writes, and since when; empty while it takes them. */
  public Optional<RegistryClient.Outage> outage() {
    return client.outage();
  }

  /** The instance this registry belongs to. */
  public String instance() {
    return instance;
  }

  /**
   * What every process of this registry's workers carries in its environment, beside the instance and nonce: it
   * lets settlement find them even when the journal lost their entries.
   */
  public Map<String, String> markers() {
    return Map.of(Reaper.REGISTRY_VARIABLE, lock.identity());
  }

  /**
   * Settles every open entry (all of them belong to earlier incarnations: this JVM has spawned nothing yet), and
   * every tree of this registry the journal lost, and journals the closings, unless {@code dryRun}. The report also
   * says whether the journal is sound: damaged, rolled back or recreated since the last incarnation recorded it.
   */
  public CompletionStage<SettlementReport> settle(boolean dryRun) {
    return settle(dryRun, Set.of());
  }

  /**
   * As {@link #settle(boolean)}, leaving open the entries whose nonce is in {@code adopted}: workers a planned
   * restart left running that this node took over before its settlement (their processes are left alone too).
   */
  public CompletionStage<SettlementReport> settle(boolean dryRun, Set<String> adopted) {
    return client.incarnations()
        .thenCompose(count -> client.open().thenApplyAsync(open -> checked(reaper.settle(open, adopted, dryRun),
            count), blocking))
        .thenCompose(report -> dryRun ? CompletableFuture.completedFuture(report)
            : unlessClosing(() -> client.settle(report.closings()))
                .thenCompose(done -> unlessClosing(() -> client.beginIncarnation(incarnation)))
                .thenApply(count -> {
                  lock.recordIncarnations(count);
                  return publish(report);
                }));
  }

  /**
   * The report with the journal's problems: set aside as damaged at open, holding fewer incarnations than the lock
   * recorded, or missing live trees of this registry (a deleted data directory leaves no other trace).
   */
  private SettlementReport checked(SettlementReport report, long journalCount) {
    List<String> warnings = new ArrayList<>(journalWarnings);
    long recorded = lock.previousIncarnations();
    if (recorded > journalCount) {
      warnings.add("the journal went back in time: it records " + journalCount + " incarnations of this node, "
          + lock.path() + " recorded " + recorded + " (the journal was damaged, restored from an older copy or"
          + " recreated); trees it lost were searched for in /proc");
    } else if (report.untracked() > 0 && warnings.isEmpty()) {
      warnings.add("the journal " + journal + " had no entry for " + report.untracked() + " live process trees of"
          + " this node (was the data directory deleted, or the journal replaced?); they were found in /proc");
    }
    for (String w : warnings) {
      LOG.error("{}", w);
    }
    return report.withJournalWarnings(warnings);
  }

  private SettlementReport publish(SettlementReport report) {
    for (SettlementReport.Row row : report.rows()) {
      system.eventStream().tell(new EventStream.Publish<>(
          new WorkerSettled(instance, row.entry(), row.how(), row.processes(), row.detail())));
    }
    return report;
  }

  @Override
  public void close() {
    JournalLease held = lease;
    if (held != null) {
      held.close();
    }
    lock.close();
  }
}
