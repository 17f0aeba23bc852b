package io.snakepit.bench;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.snakepit.Settlement;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.WorkerIdentity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Settlement: a node's start with N orphans of a dead JVM in its journal, until the settlement is done and every
 * orphan is gone (and, apart, until its pool is ready), against the same start with none. The orphans are real
 * {@code sleep} processes carrying the instance's marker and their entry's nonce, journaled (reserved, then spawned
 * with their pid, start time and boot id) by a registry that closed before the node starts.
 */
final class SettlementBench implements Bench {
  private static final Duration ORPHANS_GONE = Duration.ofSeconds(30);

  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Integer> sizes = c.quick() ? List.of(0, 20) : List.of(0, 100, 200);
    Map<Integer, List<Double>> settled = new LinkedHashMap<>();
    Map<Integer, List<Double>> ready = new LinkedHashMap<>();
    Map<Integer, List<Double>> reaper = new LinkedHashMap<>();
    sizes.forEach(n -> {
      settled.put(n, new ArrayList<>());
      ready.put(n, new ArrayList<>());
      reaper.put(n, new ArrayList<>());
    });
    startOnce(c, 0); // warm-up, not measured: class loading, the shim and worker package unpacked
    for (int run = 0; run < c.runs(); run++) {
      // The sizes alternate within each run, so drift on the machine hits them alike.
      for (int n : sizes) {
        Sample s = startOnce(c, n);
        settled.get(n).add(s.settled);
        ready.get(n).add(s.ready);
        reaper.get(n).add(s.reaper);
      }
    }
    List<Measurement> out = new ArrayList<>();
    Series noneSettled = new Series("0 orphans", settled.get(0));
    Series noneReady = new Series("0 orphans", ready.get(0));
    for (int n : sizes) {
      String note = "the reaper itself took " + Report.fmt(new Series("", reaper.get(n)).median()) + " ms (median)"
          + "; the rest is the actor system, the journal's start, its recovery and the closings' write";
      out.add(new Measurement("settlement.n" + n, "Settlement", "node start until " + n + " orphans are settled"
          + " and gone", "ms", new Series(n + " journaled orphans", settled.get(n)), n == 0 ? null : noneSettled,
          n == 200 ? Goal.atMost(2000, "<= 2 s") : Goal.none(), note));
    }
    int most = sizes.get(sizes.size() - 1);
    out.add(new Measurement("settlement.reaper.n" + most, "Settlement", "the reaper's own time for " + most
        + " orphans (SettlementReport.took(): /proc scan, verification, signals, until every orphan is gone)", "ms",
        new Series(most + " journaled orphans", reaper.get(most)), null,
        most == 200 ? Goal.atMost(300, "<= 300 ms") : Goal.none(), ""));
    for (int n : sizes) {
      out.add(new Measurement("settlement.ready.n" + n, "Settlement", "node start until its pool of 1 worker is"
          + " ready, " + n + " orphans", "ms", new Series(n + " journaled orphans", ready.get(n)),
          n == 0 ? null : noneReady, Goal.none(), ""));
    }
    return out;
  }

  private record Sample(double settled, double ready, double reaper) {}

  /** Journals n marked sleepers as a dead JVM's workers, then starts a node on that instance and times it. */
  private static Sample startOnce(Context c, int n) throws Exception {
    String instance = c.freshInstance("bench");
    List<Process> sleepers = new ArrayList<>();
    try {
      List<String> nonces = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String nonce = "orphan" + i + "-" + UUID.randomUUID().toString().substring(0, 8);
        ProcessBuilder pb = new ProcessBuilder("sleep", "1000");
        pb.environment().put("SNAKEPIT_INSTANCE", instance);
        pb.environment().put("SNAKEPIT_NONCE", nonce);
        sleepers.add(pb.start());
        nonces.add(nonce);
      }
      List<ProcessTree.Proc> orphans = new ArrayList<>();
      for (Process p : sleepers) {
        long start = ProcStat.read((int) p.pid()).orElseThrow(() -> new IllegalStateException("sleeper " + p.pid()
            + " ended before it was journaled")).startTime();
        orphans.add(new ProcessTree.Proc((int) p.pid(), start));
      }
      journal(c, instance, orphans, nonces);

      long t0 = System.nanoTime();
      try (Node node = Node.start(c, instance, "p { workers = 1 }")) {
        Settlement report = node.snakepit.settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
        List<ProcessTree.Proc> left = ProcessTree.awaitGone(orphans, Duration.ofMillis(1), ORPHANS_GONE);
        long t1 = System.nanoTime();
        node.awaitReady();
        long t2 = System.nanoTime();
        if (!left.isEmpty() || report.killed() != n) {
          throw new IllegalStateException("settlement of " + n + " orphans: " + report.summary() + "; still running "
              + ORPHANS_GONE.toSeconds() + " s later: " + left);
        }
        return new Sample((t1 - t0) / 1e6, (t2 - t0) / 1e6, report.took().toNanos() / 1e6);
      }
    } finally {
      List<Process> survivors = sleepers.stream().filter(Process::isAlive).toList();
      survivors.forEach(Process::destroyForcibly);
      for (Process p : sleepers) {
        p.waitFor(10, TimeUnit.SECONDS);
      }
      if (!survivors.isEmpty()) {
        // isAlive holds until Java has reaped the child, so a sleeper killed a moment ago may still count here.
        List<Long> running = survivors.stream().filter(p -> ProcStat.read((int) p.pid())
            .filter(s -> s.state() != 'Z').isPresent()).map(Process::pid).toList();
        if (!running.isEmpty()) {
          throw new IllegalStateException("the settlement left orphans running (killed now): " + running);
        }
      }
    }
  }

  /**
   * A short-lived registry of the instance, as a JVM that died would have left it: every orphan reserved, spawned.
   * Also with no orphans: the node then opens an existing journal, as every start but an instance's first does.
   */
  private static void journal(Context c, String instance, List<ProcessTree.Proc> orphans, List<String> nonces)
      throws Exception {
    Config config = ConfigFactory.load(Node.settings(c, instance));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "journal", config);
    try {
      Registry registry = Registry.open(system, config.getConfig("snakepit"));
      String boot = BootId.current();
      List<CompletableFuture<?>> writes = new ArrayList<>();
      for (int i = 0; i < orphans.size(); i++) {
        ProcessTree.Proc p = orphans.get(i);
        String nonce = nonces.get(i);
        SpawnedWorker spawned = new SpawnedWorker(
            new WorkerIdentity(p.pid(), p.pid(), p.startTime(), boot, p.pid(), p.startTime()), "/nowhere");
        writes.add(registry.client().reserve(nonce, "orphan-" + i, "dead-jvm", boot)
            .thenCompose(done -> registry.client().spawned(nonce, spawned)).toCompletableFuture());
      }
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      // Read back before the stop: the registry has recovered and holds every entry (and with none, it does not
      // stop in the middle of its recovery).
      int open = registry.client().open().toCompletableFuture().get(60, TimeUnit.SECONDS).size();
      if (open != orphans.size()) {
        throw new IllegalStateException("journaled " + orphans.size() + " orphans, the registry has " + open);
      }
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }
}
