package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.eventstream.EventStream;
import io.snakepit.Snakepit;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.Settlement;
import io.snakepit.persistence.SettlementReport;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.persistence.WorkerSettled;
import io.snakepit.shim.BootId;
import io.snakepit.shim.Cgroups;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.WorkerIdentity;
import io.snakepit.testing.NodeProcess;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The durable registry with real processes and a real journal (embedded H2, and PostgreSQL where marked): what a
 * dead JVM left is found, verified and settled, and nothing else is ever signalled.
 */
class RegistryIT {

  /** The journals the registry runs on. */
  enum Db {
    H2, POSTGRES;

    String config() {
      return this == POSTGRES ? TestNodes.postgres() : "";
    }
  }

  /** A registry opened in this JVM, as `snakepit reap` does, without pools. */
  private static <T> T withRegistry(String overrides, Function<Registry, T> use) {
    ActorTestKit kit = ActorTestKit.create("registry", TestNodes.config(overrides));
    try {
      return use.apply(Registry.open(kit.system(), kit.system().settings().config().getConfig("snakepit")));
    } finally {
      kit.shutdownTestKit();
    }
  }

  private static <T> T await(java.util.concurrent.CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static int pythonOf(int jvm) {
    return Procs.descendants(jvm).stream().filter(p -> Procs.cmdline(p.pid()).contains("snakepit_worker")
            && !Procs.cmdline(p.pid()).contains("snakepit-shim"))
        .findFirst().orElseThrow(() -> new AssertionError("no worker under " + jvm)).pid();
  }

  /** What a start or stop of hundreds of workers sends the journal at once: a few atomic writes, each durable. */
  @ParameterizedTest
  @EnumSource(Db.class)
  void writesArrivingTogetherGoInAFewAtomicWrites(Db db) {
    int workers = 300;
    // Batching, not snapshots: with the default snapshot every 200 events, the 900 events below end in a snapshot
    // whose deletion of older events can still run on PostgreSQL when the test's actor system stops.
    withRegistry(db.config() + "snakepit.registry.snapshot-every = 100000\n", r -> {
      long before = r.client().batches();
      List<CompletableFuture<?>> writes = new ArrayList<>();
      for (int i = 0; i < workers; i++) {
        writes.add(r.client().reserve("batch-" + i, "w-" + i, "earlier", BootId.current()).toCompletableFuture());
      }
      await(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
      long reserveBatches = r.client().batches() - before;
      assertEquals(workers, await(r.client().open()).stream().filter(e -> e.nonce().startsWith("batch-")).count(),
          "every reservation is journaled");
      assertTrue(reserveBatches <= 20, workers + " reservations took " + reserveBatches + " atomic writes");
      writes.clear();
      for (int i = 0; i < workers; i++) {
        writes.add(r.client().exited("batch-" + i, "exited with code 0").toCompletableFuture());
      }
      await(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
      assertEquals(0, await(r.client().open()).stream().filter(e -> e.nonce().startsWith("batch-")).count(),
          "every exit closed its entry");
      return null;
    });
  }

  @ParameterizedTest
  @EnumSource(Db.class)
  void spawnedEntryOutlivesAKill9RightAfterTheWorkerBecomesRoutable(Db db) throws Exception {
    String overrides = db.config() + "snakepit.pools.default.workers = 1\n";
    int trials = 20;
    List<Integer> pythons = new ArrayList<>();
    List<List<String>> settledByNextStart = new ArrayList<>();
    for (int i = 0; i < trials; i++) {
      try (NodeProcess node = NodeProcess.start(List.of(), overrides)) {
        assertTrue(node.ready(), node.lines + node.stderr());
        settledByNextStart.add(node.linesStartingWith("settled "));
        int python = pythonOf(node.pid());
        Procs.kill(node.pid(), 9);
        node.awaitExit();
        pythons.add(python);
      }
    }
    List<String> lastFound = withRegistry(overrides, r -> await(r.client().open()).stream()
        .filter(e -> e.spawned() != null).map(e -> Integer.toString(e.spawned().identity().pid())).toList());
    withRegistry(overrides, r -> await(r.settle(false)));
    int found = 0;
    for (int i = 0; i < trials; i++) {
      String pid = Integer.toString(pythons.get(i));
      boolean seen = i + 1 < trials
          ? settledByNextStart.get(i + 1).stream().anyMatch(l -> l.split(" ")[1].equals(pid))
          : lastFound.contains(pid);
      found += seen ? 1 : 0;
    }
    System.out.println("registry durability (" + db + "): spawned entry found after kill -9 in " + found + " of "
        + trials + " trials");
    assertEquals(trials, found, "pythons " + pythons + ", found by next starts " + settledByNextStart);
  }

  @ParameterizedTest
  @EnumSource(Db.class)
  void orphansOfAShimKilledWithItsJvmAreSettledAtTheNextStart(Db db) throws Exception {
    String overrides = db.config() + """
        snakepit.pools.default { workers = 2, adapter = "snakepit_worker.examples.forking:ForkingAdapter" }
        """;
    List<Procs.Proc> orphans = NodeProcess.orphansOfAKilledNode(overrides, 2);
    // Per tree: the multiprocessing child, the subprocess and the double-forked grandchild survive their Python.
    assertTrue(orphans.size() >= 6, "expected orphans to survive the kill, found " + orphans);
    SettlementReport report = withRegistry(overrides, r -> await(r.settle(false)));
    assertEquals(List.of(), Procs.awaitGone(orphans, Duration.ofSeconds(10)), "orphans left after settlement");
    assertEquals(2, report.count(Settlement.KILLED), report.table());
    assertEquals(0, report.count(Settlement.IMPOSTOR), report.table());
    assertEquals(List.of(), withRegistry(overrides, r -> await(r.client().open())), "entries left open");
  }

  @ParameterizedTest
  @EnumSource(Db.class)
  void aCleanStopOfSixteenWorkersLeavesNoEntryOpen(Db db) throws Exception {
    String overrides = db.config() + "snakepit.pools.default { workers = 16 }\n";
    List<Procs.Proc> tree;
    try (NodeProcess node = NodeProcess.start(List.of(), overrides)) {
      assertTrue(node.ready(), node.lines + node.stderr());
      tree = Procs.descendants(node.pid());
      assertEquals(16, tree.stream().filter(p -> Procs.cmdline(p.pid()).contains("snakepit-shim")).count(),
          tree.toString());
      node.process.destroy(); // SIGTERM: coordinated shutdown stops the pools
      node.awaitExit();
      assertFalse(node.stderr().contains("Failed to persist"), node.stderr());
    }
    assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "processes left after the stop");
    List<io.snakepit.persistence.RegistryEntry> open = withRegistry(overrides, r -> await(r.client().open()));
    assertEquals(List.of(), open, "entries left open by a clean stop");
  }

  /** A process that stands where a recorded worker was: it logs every signal it can catch, and ignores them. */
  private static Process impostor(Path log, boolean marked, String nonce) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(TestNodes.python(), "-c", """
        import signal, sys, time
        log = open(sys.argv[1], "a", buffering=1)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT):
            signal.signal(s, lambda n, f: log.write("%d\\n" % n))
        print("up", flush=True)
        while True:
            time.sleep(1)
        """, log.toString());
    if (marked) {
      pb.environment().put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
      pb.environment().put("SNAKEPIT_NONCE", nonce);
    }
    Process p = pb.start();
    assertEquals('u', (char) p.getInputStream().read(), "the impostor did not start");
    return p;
  }

  private static void journal(Registry r, String nonce, String bootId, int pid, long startTime) {
    await(r.client().reserve(nonce, "test-" + nonce, "earlier", bootId));
    await(r.client().spawned(nonce, new SpawnedWorker(
        new WorkerIdentity(pid, pid, startTime, bootId, pid, startTime), "/nowhere")));
  }

  @Test
  void aRecordedPidNowHeldByAnotherProcessGetsNoSignal() throws Exception {
    Path log = Files.createTempFile("impostor", ".log");
    String wrongStart = "n" + UUID.randomUUID().toString().substring(0, 8);
    String noMarker = "n" + UUID.randomUUID().toString().substring(0, 8);
    Process reused = impostor(log, true, wrongStart);
    Process unmarked = impostor(log, false, noMarker);
    try {
      long reusedStart = ProcStat.read((int) reused.pid()).orElseThrow().startTime();
      long unmarkedStart = ProcStat.read((int) unmarked.pid()).orElseThrow().startTime();
      SettlementReport report = withRegistry("", r -> {
        // Same pid, another start time: the pid was reused.
        journal(r, wrongStart, BootId.current(), (int) reused.pid(), reusedStart - 1);
        // Same pid and start time, but not carrying this instance's marker.
        journal(r, noMarker, BootId.current(), (int) unmarked.pid(), unmarkedStart);
        return await(r.settle(false));
      });
      assertEquals(2, report.count(Settlement.IMPOSTOR), report.table());
      Thread.sleep(500);
      assertTrue(reused.isAlive() && unmarked.isAlive(), "an impostor was killed");
      assertEquals("", Files.readString(log), "an impostor received signals");
    } finally {
      reused.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      unmarked.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aJournaledCgroupIsKilledAndRemovedAtSettlementEvenWithAProcessThatDroppedTheMarker() throws Exception {
    String nonce = "n" + UUID.randomUUID().toString().substring(0, 8);
    Cgroups.WorkerCgroup cgroup = Cgroups.create(Cgroups.Layout.detect(), "snakepit-it",
        TestNodes.INSTANCE + "/settle-" + nonce, Cgroups.Limits.NONE);
    // No marker in its environment: only the journaled cgroup ties it to the entry.
    Process unmarked = new ProcessBuilder("sleep", "1000").start();
    try {
      Files.writeString(cgroup.unified().resolve("cgroup.procs"), Long.toString(unmarked.pid()));
      SettlementReport report = withRegistry("", r -> {
        await(r.client().reserve(nonce, "test-" + nonce, "earlier", BootId.current(), cgroup.recorded()));
        return await(r.settle(false));
      });
      assertEquals(1, report.count(Settlement.KILLED), report.table());
      assertTrue(unmarked.waitFor(10, TimeUnit.SECONDS), "the process in the journaled cgroup is alive");
      assertEquals(9, unmarked.exitValue() - 128, "not SIGKILLed: exit value " + unmarked.exitValue());
      assertTrue(!Files.exists(cgroup.unified()), "the cgroup was not removed: " + cgroup.unified());
    } finally {
      unmarked.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      cgroup.remove(Duration.ofSeconds(5));
    }
  }

  @Test
  void entriesOfAnotherBootAreClosedAndNothingIsKilled() throws Exception {
    Path log = Files.createTempFile("reboot", ".log");
    String nonce = "n" + UUID.randomUUID().toString().substring(0, 8);
    Process marked = impostor(log, true, nonce);
    try {
      long start = ProcStat.read((int) marked.pid()).orElseThrow().startTime();
      ActorTestKit kit = ActorTestKit.create("reboot", TestNodes.config(""));
      try {
        TestProbe<WorkerSettled> events = kit.createTestProbe();
        kit.system().eventStream().tell(new EventStream.Subscribe<>(WorkerSettled.class, events.getRef()));
        Registry r = Registry.open(kit.system(), kit.system().settings().config().getConfig("snakepit"));
        journal(r, nonce, "00000000-0000-0000-0000-000000000000", (int) marked.pid(), start);
        SettlementReport report = await(r.settle(false));
        assertEquals(1, report.count(Settlement.REBOOTED), report.table());
        WorkerSettled event = events.receiveMessage(Duration.ofSeconds(10));
        assertEquals(nonce, event.entry().nonce());
        assertEquals(Settlement.REBOOTED, event.how());
      } finally {
        kit.shutdownTestKit();
      }
      Thread.sleep(300);
      assertTrue(marked.isAlive(), "a process was killed on the strength of another boot's entry");
      assertEquals("", Files.readString(log));
      assertEquals(List.of(), withRegistry("", r -> await(r.client().open())));
    } finally {
      marked.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void twoInstancesLeaveEachOtherAloneAndTheSameInstanceTwiceFailsFast() throws Exception {
    ActorTestKit a = ActorTestKit.create("a", TestNodes.config("snakepit.pools.default.workers = 1"));
    try {
      Snakepit first = Snakepit.get(a.system());
      first.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
      int worker = Integer.parseInt(first.execute("pid", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS)
          .json());
      Procs.Proc proc = Procs.of(worker).orElseThrow();

      // Another instance on the same host and data directory settles its own journal only.
      ActorTestKit b = ActorTestKit.create("b", TestNodes.config("snakepit.instance = \"" + TestNodes.INSTANCE
          + "-b\"\nsnakepit.pools.default.workers = 1"));
      try {
        Snakepit second = Snakepit.get(b.system());
        second.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
        assertNotNull(second.settlement().toCompletableFuture().get(60, TimeUnit.SECONDS));
      } finally {
        b.shutdownTestKit();
      }
      assertTrue(proc.alive(), "another instance's node touched this instance's worker");

      // The same instance twice: the second fails at once, naming the holder.
      ActorTestKit c = ActorTestKit.create("c", TestNodes.config("snakepit.pools.default.workers = 1"));
      try {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Snakepit.get(c.system()));
        assertTrue(e.getMessage().contains("another node with instance name '" + TestNodes.INSTANCE + "'")
            && e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
      } finally {
        c.shutdownTestKit();
      }
      assertTrue(proc.alive());
    } finally {
      a.shutdownTestKit();
    }
  }

  @Test
  void crashPointsConvergeWithNothingLeakedAndNothingKilledTwice() throws Exception {
    String overrides = "snakepit.pools.default { workers = 1, adapter = "
        + "\"snakepit_worker.examples.forking:ForkingAdapter\" }\n";
    for (String point : List.of("after-reserve", "before-spawned-write")) {
      try (NodeProcess node = NodeProcess.start(List.of("-Dsnakepit.registry.halt-at=" + point), overrides)) {
        assertEquals(97, node.awaitExit(), point + ": the node did not halt there: " + node.lines);
      }
      SettlementReport report = withRegistry("", r -> await(r.settle(false)));
      assertEquals(1, report.rows().size(), point + "\n" + report.table());
      assertEquals(List.of(), Procs.withInstance(TestNodes.INSTANCE), point + ": processes leaked");
      assertEquals(List.of(), withRegistry("", r -> await(r.client().open())), point + ": entries left open");
    }

    // Orphans, then a settlement that halts between its kills and its journal write.
    List<Procs.Proc> orphans;
    try (NodeProcess node = NodeProcess.start(List.of(), overrides, "spawn_tree", "1")) {
      assertTrue(node.ready(), node.lines + node.stderr());
      List<Procs.Proc> tree = Procs.descendants(node.pid());
      Procs.kill(node.pid(), 19);
      for (Procs.Proc p : tree) {
        if (Procs.cmdline(p.pid()).contains("snakepit-shim")) {
          Procs.kill(p.pid(), 9);
        }
      }
      Procs.kill(node.pid(), 9);
      node.awaitExit();
      Thread.sleep(300);
      orphans = tree.stream().filter(Procs.Proc::alive).toList();
    }
    assertFalse(orphans.isEmpty(), "no orphans to settle");
    try (NodeProcess node = NodeProcess.start(List.of("-Dsnakepit.registry.halt-at=after-kill"), overrides)) {
      assertEquals(97, node.awaitExit(), node.lines.toString());
    }
    assertEquals(List.of(), Procs.awaitGone(orphans, Duration.ofSeconds(10)));
    SettlementReport after = withRegistry("", r -> await(r.settle(false)));
    assertEquals(1, after.rows().size(), after.table());
    assertEquals(Settlement.EXITED, after.rows().get(0).how(), "the second settlement must find the tree gone");
    assertEquals(List.of(), after.rows().get(0).processes(), "a process was signalled twice");
    assertEquals(List.of(), withRegistry("", r -> await(r.client().open())));
  }

  @Test
  void twoHundredJournaledOrphansAreSettledAtStart() throws Exception {
    int count = 200;
    List<Process> sleepers = new ArrayList<>();
    List<String> nonces = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        String nonce = "o" + i + "-" + UUID.randomUUID().toString().substring(0, 6);
        ProcessBuilder pb = new ProcessBuilder("sleep", "1000");
        pb.environment().put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
        pb.environment().put("SNAKEPIT_NONCE", nonce);
        sleepers.add(pb.start());
        nonces.add(nonce);
      }
      withRegistry("", r -> {
        for (int i = 0; i < count; i++) {
          int pid = (int) sleepers.get(i).pid();
          journal(r, nonces.get(i), BootId.current(), pid, ProcStat.read(pid).orElseThrow().startTime());
        }
        return null;
      });
      long started = System.nanoTime();
      SettlementReport report = withRegistry("", r -> await(r.settle(false)));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      System.out.println("settlement of " + count + " journaled orphans: " + report.took().toMillis()
          + " ms in the reaper, " + ms + " ms including the registry's start and recovery");
      assertEquals(count, report.count(Settlement.KILLED), report.summary());
      for (Process p : sleepers) {
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), "orphan " + p.pid() + " still alive");
      }
    } finally {
      sleepers.forEach(Process::destroyForcibly);
    }
  }

  @Test
  void orphanPolicyWatchesTerminatesAfterItsGraceOrKillsAtOnce() throws Exception {
    Path log = Files.createTempFile("policy", ".log");
    String nonce = "n" + UUID.randomUUID().toString().substring(0, 8);
    Process orphan = impostor(log, true, nonce); // marked, catches and ignores SIGTERM
    try {
      long start = ProcStat.read((int) orphan.pid()).orElseThrow().startTime();
      String watch = "snakepit.registry.orphan-policy = [{ younger-than = 1h, action = watch },"
          + " { younger-than = 3650d, action = kill }]\n";
      SettlementReport watched = withRegistry(watch, r -> {
        journal(r, nonce, BootId.current(), (int) orphan.pid(), start);
        return await(r.settle(false));
      });
      assertEquals(0, watched.closings().size(), watched.table());
      assertTrue(orphan.isAlive(), "a watched orphan was killed");
      assertEquals(1, withRegistry(watch, r -> await(r.client().open())).size(), "a watched entry must stay open");

      String terminate = "snakepit.registry.orphan-policy = [{ younger-than = 3650d, action = terminate,"
          + " grace = 1s }]\n";
      long t0 = System.nanoTime();
      SettlementReport terminated = withRegistry(terminate, r -> await(r.settle(false)));
      assertEquals(1, terminated.count(Settlement.KILLED), terminated.table());
      assertTrue(orphan.waitFor(10, TimeUnit.SECONDS), "the orphan outlived its grace");
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(1000), "SIGKILL came before the grace");
      assertEquals("15\n", Files.readString(log), "the orphan should have seen one SIGTERM before its SIGKILL");
    } finally {
      orphan.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    Path log2 = Files.createTempFile("policy", ".log");
    String nonce2 = "n" + UUID.randomUUID().toString().substring(0, 8);
    Process old = impostor(log2, true, nonce2);
    try {
      long start = ProcStat.read((int) old.pid()).orElseThrow().startTime();
      String kill = "snakepit.registry.orphan-policy = [{ younger-than = 3650d, action = kill }]\n";
      SettlementReport killed = withRegistry(kill, r -> {
        journal(r, nonce2, BootId.current(), (int) old.pid(), start);
        return await(r.settle(false));
      });
      assertEquals(1, killed.count(Settlement.KILLED), killed.table());
      assertTrue(old.waitFor(10, TimeUnit.SECONDS));
      assertEquals("", Files.readString(log2), "kill means SIGKILL at once, with no SIGTERM first");
    } finally {
      old.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
