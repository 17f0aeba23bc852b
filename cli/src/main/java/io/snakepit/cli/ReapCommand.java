package io.snakepit.cli;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import io.snakepit.actors.AuditLog;
import io.snakepit.actors.Events;
import io.snakepit.actors.Node;
import io.snakepit.persistence.InstanceLock;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.SettlementReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit reap}: settles what dead nodes left, without starting one. */
@Command(name = "reap", mixinStandardHelpOptions = true,
    description = "Settle the journal entries that dead nodes left on this host: kill their verified orphans, close"
        + " the entries, and print what was found and done. Instances whose node is alive are left alone."
        + " Exit 0 when all went well, 1 on an error, 3 when an asked-for instance is held by a live node.")
final class ReapCommand implements Callable<Integer> {

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
      description = "The nodes' state directory (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "Settle this instance only (default: every instance with a lock file in the data directory).")
  String instance;

  @Option(names = "--dry-run", description = "Report what would be done; signal nothing and journal nothing.")
  boolean dryRun;

  @Option(names = "--config", paramLabel = "FILE",
      description = "The node's --config file (HOCON), for its journal: a node whose snakepit.registry.db is a"
          + " shared PostgreSQL database is reaped there, and only this host's entries of the instance are settled.")
  Path configFile;

  @Override
  public Integer call() throws Exception {
    List<String> instances = instance != null ? List.of(instance) : instancesIn(dataDir);
    if (instances.isEmpty()) {
      System.out.println("nothing to settle: no instance lock files in " + dataDir.toAbsolutePath());
      return 0;
    }
    int status = 0;
    for (String name : instances) {
      status = Math.max(status, reap(name));
    }
    return status;
  }

  private int reap(String name) throws Exception {
    Config config;
    try {
      config = NodeConfig.load(configFile, dataDir, dataDir, name, Map.of("akka.loglevel", "WARNING"), Map.of());
    } catch (NodeConfig.BadFile e) {
      System.err.println("snakepit: " + e.getMessage());
      return 1;
    }
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "snakepit-reap", config);
    try {
      Registry registry;
      try {
        registry = Registry.open(system, config.getConfig("snakepit"));
      } catch (IllegalStateException e) {
        boolean held = e.getMessage().startsWith("another node");
        System.out.println("instance " + name + ": " + (held ? "a live node holds it (pid "
            + InstanceLock.holder(dataDir.toAbsolutePath(), name) + "); left alone" : e.getMessage()));
        return held ? 3 : 1;
      }
      SettlementReport report = registry.settle(dryRun).toCompletableFuture().get(10, TimeUnit.MINUTES);
      if (!dryRun) {
        audit(config.getConfig("snakepit"), name, report);
      }
      System.out.println("instance " + name + (report.pidfd() ? "" : " (no pidfd on this kernel: signals by pid)"));
      System.out.print(report.table());
      System.out.println(report.summary());
      return 0;
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * Writes what was settled to the instance's audit log, as its node's start would have: whatever kills a process
   * of the instance leaves a line there. Nothing when the instance's audit log is off.
   */
  private void audit(Config snakepit, String name, SettlementReport report) {
    Config settings = snakepit.getConfig("audit");
    if (!settings.getBoolean("enabled") || report.rows().isEmpty() && report.journalWarnings().isEmpty()) {
      return;
    }
    AuditLog log = AuditLog.open(dataDir.toAbsolutePath(), name, settings.getBytes("max-size"),
        settings.getInt("keep"));
    try {
      Node.publish(report, Events.to(log::append, name));
    } finally {
      log.close();
    }
  }

  private static List<String> instancesIn(Path dataDir) throws IOException {
    if (!Files.isDirectory(dataDir)) {
      return List.of();
    }
    List<String> names = new ArrayList<>();
    try (Stream<Path> files = Files.list(dataDir)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".lock")).sorted()
          .forEach(n -> names.add(n.substring(0, n.length() - ".lock".length())));
    }
    return names;
  }
}
