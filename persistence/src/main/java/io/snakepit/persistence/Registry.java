package io.snakepit.persistence;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import com.typesafe.config.Config;
import io.snakepit.shim.BootId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * One node's registry: it holds the instance lock for the JVM's life, owns the journal of (host, instance), and
 * settles what earlier incarnations left before any new worker is spawned.
 */
public final class Registry implements AutoCloseable {
  private final InstanceLock lock;
  private final RegistryClient client;
  private final String instance;
  private final String incarnation = UUID.randomUUID().toString().substring(0, 8);
  private final Reaper reaper;
  private final Executor blocking;
  private final ActorSystem<?> system;

  private Registry(ActorSystem<?> system, InstanceLock lock, RegistryClient client, String instance, Reaper reaper,
      Executor blocking) {
    this.system = system;
    this.lock = lock;
    this.client = client;
    this.instance = instance;
    this.reaper = reaper;
    this.blocking = blocking;
  }

  /**
   * Takes the instance lock, prepares the journal and starts the registry actor.
   *
   * @param snakepit the {@code snakepit} block of the system's configuration
   * @throws IllegalStateException if another live JVM holds this instance's lock, or the journal is unusable
   */
  public static Registry open(ActorSystem<?> system, Config snakepit) {
    String instance = instanceName(snakepit);
    Path dataDir = Path.of(snakepit.getString("data-dir"));
    Config registry = snakepit.getConfig("registry");
    OrphanPolicy policy = OrphanPolicy.fromConfig(registry);
    DataDirectory.prepare(dataDir).ifPresent(warning -> system.log().warn(warning));
    InstanceLock lock = InstanceLock.acquire(dataDir, instance);
    try {
      Config db = registry.getConfig("db");
      JournalSchema.ensure(db.getString("url"), db.getString("user"), db.getString("password"));
      DataDirectory.restrictFiles(dataDir, "registry-" + instance + "."); // H2 made them with the umask's mode
      ActorRef<WorkerRegistry.Command> actor = system.systemActorOf(
          WorkerRegistry.create(host(), instance, registry.getInt("snapshot-every"), registry.getInt("keep-snapshots")),
          "snakepit-registry", Props.empty());
      RegistryClient client = new RegistryClient(actor, system, registry.getDuration("ask-timeout"),
          registry.getInt("max-in-flight"));
      Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
      Registry r = new Registry(system, lock, client, instance, new Reaper(instance, BootId.current(), policy), blocking);
      system.getWhenTerminated().whenComplete((done, error) -> r.close());
      return r;
    } catch (RuntimeException e) {
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

  /** This JVM's incarnation id, recorded with every worker it reserves. */
  public String incarnation() {
    return incarnation;
  }

  /** The instance this registry belongs to. */
  public String instance() {
    return instance;
  }

  /**
   * Settles every open entry (all of them belong to earlier incarnations: this JVM has spawned nothing yet) and
   * journals the closings, unless {@code dryRun}.
   */
  public CompletionStage<SettlementReport> settle(boolean dryRun) {
    return client.open()
        .thenApplyAsync(open -> reaper.settle(open, dryRun), blocking)
        .thenCompose(report -> dryRun ? CompletableFuture.completedFuture(report)
            : client.settle(report.closings()).thenApply(done -> publish(report)));
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
    lock.close();
  }
}
