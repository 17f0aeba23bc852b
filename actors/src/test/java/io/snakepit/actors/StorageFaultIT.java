package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.CoordinatedShutdown;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.JournalUnavailableException;
import io.snakepit.Snakepit;
import io.snakepit.WorkerCrashedException;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.SettlementReport;
import io.snakepit.testing.PostgresServer;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A journal on a filesystem that fills up while the node runs: the node says why it cannot start workers, serves
 * again by itself once space is freed, and stops (rather than limp) if the space never comes back.
 */
class StorageFaultIT {
  private Path mount;

  /** Mounts a small tmpfs for the journal: root only. */
  private void smallFilesystem() throws Exception {
    Assumptions.assumeTrue("0".equals(String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))),
        "needs root to mount a small tmpfs for the journal (run as root; .ci/run does)");
    mount = Files.createTempDirectory("snakepit-small-");
    run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.toString());
  }

  @AfterEach
  void unmount() throws Exception {
    if (mount != null) {
      // The journal's files close with the test's actor systems, which may still be ending when the test is: a busy
      // mount gets 10 s to become free, then fails the test.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      boolean unmounted = runs("umount", mount.toString());
      while (!unmounted && System.nanoTime() < deadline) {
        Thread.sleep(200);
        unmounted = runs("umount", mount.toString());
      }
      if (!unmounted) {
        run("umount", mount.toString()); // fails the test with umount's reason
      }
      Files.delete(mount);
      mount = null;
    }
  }

  private static boolean runs(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + " did not end");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + new String(p.getInputStream().readAllBytes()));
  }

  private String config(String exitAfter) {
    return "snakepit.data-dir = \"" + mount.resolve("data") + "\"\n" + pool(exitAfter);
  }

  private static String pool(String exitAfter) {
    return "snakepit.pools.default { workers = 2, restart-backoff { min = 200ms, max = 2s }, health.interval = 0s,"
        + " circuit-breaker.max-failures = 0 }\n"
        + "snakepit.registry { ask-timeout = 3s, outage { restart-backoff { min = 200ms, max = 2s },"
        + " probe-interval = 300ms, exit-after = " + exitAfter + " } }\n";
  }

  /** Fills the filesystem to the last byte. */
  private Path fill() throws IOException {
    Path filler = mount.resolve("filler");
    byte[] block = new byte[64 * 1024];
    try (OutputStream out = Files.newOutputStream(filler)) {
      while (true) {
        out.write(block);
      }
    } catch (IOException full) {
      assertTrue(String.valueOf(full.getMessage()).contains("No space left"), full.toString());
    }
    return filler;
  }

  private static Throwable failure(CompletionStage<?> call) throws Exception {
    try {
      call.toCompletableFuture().get(60, TimeUnit.SECONDS);
      throw new AssertionError("the call succeeded");
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  /** Crashes every worker of the default pool: their replacements need journal writes. */
  private static void crashWorkers(Snakepit snakepit) throws Exception {
    for (int i = 0; i < 2; i++) {
      assertInstanceOf(WorkerCrashedException.class, failure(snakepit.execute("crash", "{\"signal\": 9}")));
    }
  }

  /**
   * H2 does not reopen its file in the same JVM once a write failed on a full disk (the database stays "already in
   * use"), so recovery comes from the node's exit and its service manager's restart: this test plays the manager.
   */
  @Test
  void aFullDiskFailsCallsWithTheReasonStopsTheNodeAndTheRestartedNodeServesWithNothingUntracked() throws Exception {
    smallFilesystem();
    ActorTestKit kit = ActorTestKit.create("storage", TestNodes.config(config("5s")));
    List<Procs.Proc> workers;
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
      Path filler = fill();
      crashWorkers(snakepit);

      assertCallsFailWithTheOutage(kit, snakepit);
      Files.delete(filler);

      kit.system().getWhenTerminated().toCompletableFuture().get(90, TimeUnit.SECONDS);
      CoordinatedShutdown.Reason reason = CoordinatedShutdown.get(kit.system()).getShutdownReason().orElseThrow();
      Registry.JournalOutage outage = assertInstanceOf(Registry.JournalOutage.class, reason);
      assertTrue(outage.message().contains("exit-after"), outage.message());
      workers = Procs.withInstance(TestNodes.INSTANCE);
    } finally {
      kit.shutdownTestKit();
    }
    assertEquals(List.of(), Procs.awaitGone(workers, Duration.ofSeconds(10)), "workers outlived the stopped node");

    ActorTestKit next = ActorTestKit.create("storage-next", TestNodes.config(config("5s")));
    try {
      Snakepit snakepit = Snakepit.get(next.system());
      SettlementReport report = Node.get(next.system()).settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
      assertEquals(0, report.untracked(), report.table());
      assertEquals(List.of(), report.journalWarnings(), report.summary());
      assertTrue(report.rows().stream().allMatch(r -> r.processes().isEmpty()), report.table());
      snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
      assertEquals("\"pong\"", snakepit.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS).json());
    } finally {
      next.shutdownTestKit();
    }
  }

  /** Calls end with JournalUnavailableException (within a bound), and the node reports the outage. */
  private static void assertCallsFailWithTheOutage(ActorTestKit kit, Snakepit snakepit) throws Exception {
    Throwable refused = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (refused == null && System.nanoTime() < deadline && !kit.system().whenTerminated().isCompleted()) {
      try {
        snakepit.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        refused = e.getCause() instanceof JournalUnavailableException ? e.getCause() : null;
      }
      Thread.sleep(100);
    }
    JournalUnavailableException unavailable = assertInstanceOf(JournalUnavailableException.class, refused,
        "calls never failed with JournalUnavailableException while the journal failed writes");
    assertTrue(unavailable.getMessage().contains("snakepit.registry.db"), unavailable.getMessage());
    assertTrue(snakepit.journalOutage().isPresent(), "the node does not report the outage");
  }

  /**
   * PostgreSQL that turns read-only and back, as a database whose disk fills and is freed would: the node recovers in
   * the same JVM once writes succeed again.
   */
  @Test
  void aDatabaseThatRefusesWritesAndTakesThemAgainIsRecoveredFromInTheSameJvm() throws Exception {
    PostgresServer pg = PostgresServer.shared();
    try (Connection admin = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      ActorTestKit kit = ActorTestKit.create("storage-pg", TestNodes.config(TestNodes.postgres() + pool("0s")));
      List<Procs.Proc> workers;
      try {
        Snakepit snakepit = Snakepit.get(kit.system());
        snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
        readOnly(admin, true);
        crashWorkers(snakepit);
        assertCallsFailWithTheOutage(kit, snakepit);

        readOnly(admin, false);
        String answer = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (answer == null && System.nanoTime() < deadline) {
          try {
            answer = snakepit.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS).json();
          } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            Thread.sleep(200);
          }
        }
        assertEquals("\"pong\"", answer, "the node did not serve again once the database took writes");
        assertTrue(snakepit.journalOutage().isEmpty(), snakepit.journalOutage().toString());
        assertTrue(!kit.system().whenTerminated().isCompleted(), "the node stopped");
        workers = Procs.withInstance(TestNodes.INSTANCE);
      } finally {
        readOnly(admin, false);
        kit.shutdownTestKit();
      }
      assertEquals(List.of(), Procs.awaitGone(workers, Duration.ofSeconds(10)));
    }
  }

  /**
   * A reservation the journal refuses happens after the worker's containment was prepared: the cgroup made for it is
   * removed again, however many replacements are tried while the outage lasts.
   */
  @Test
  void reservationsTheJournalRefusesReleaseTheCgroupsPreparedForThem() throws Exception {
    Requires.isolationMode("cgroup");
    PostgresServer pg = PostgresServer.shared();
    Path instanceCgroup;
    int most = 0;
    try (Connection admin = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      ActorTestKit kit = ActorTestKit.create("storage-cgroup", TestNodes.config(TestNodes.postgres() + pool("0s")
          + "snakepit.pool-defaults.isolation.mode = cgroup\n"));
      try {
        Snakepit snakepit = Snakepit.get(kit.system());
        snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
        instanceCgroup = instanceCgroup();
        assertEquals(2, workerCgroups(instanceCgroup).size(), "one cgroup per worker under " + instanceCgroup);
        readOnly(admin, true);
        crashWorkers(snakepit);
        assertCallsFailWithTheOutage(kit, snakepit);
        // Replacements are tried while the outage lasts: each prepares a cgroup that its refused reservation frees.
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < until) {
          most = Math.max(most, workerCgroups(instanceCgroup).size());
          Thread.sleep(20);
        }
      } finally {
        readOnly(admin, false);
        kit.shutdownTestKit();
      }
    }
    assertTrue(most <= 2, "cgroups of refused reservations piled up: " + most + " worker cgroups for 2 slots");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!workerCgroups(instanceCgroup).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertEquals(List.of(), workerCgroups(instanceCgroup), "worker cgroups left after the stop");
  }

  /** The cgroup2 directory that holds this instance's worker cgroups, as a live worker's /proc/PID/cgroup names it. */
  private static Path instanceCgroup() throws IOException {
    for (Procs.Proc p : Procs.withInstance(TestNodes.INSTANCE)) {
      String line = Files.readString(Path.of("/proc/" + p.pid() + "/cgroup")).lines()
          .filter(l -> l.startsWith("0::")).findFirst().orElse("");
      if (line.contains("/snakepit/" + TestNodes.INSTANCE + "/")) {
        return Path.of("/sys/fs/cgroup/unified" + line.substring(3)).getParent();
      }
    }
    throw new AssertionError("no worker of instance " + TestNodes.INSTANCE + " runs in a snakepit cgroup");
  }

  /** The worker cgroups under {@code dir} (none once it is gone). */
  private static List<Path> workerCgroups(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (var list = Files.list(dir)) {
      return list.filter(Files::isDirectory).toList();
    }
  }

  /** Makes the database refuse (or take) writes in every session from now on, ending those open. */
  private static void readOnly(Connection admin, boolean on) throws Exception {
    try (Statement s = admin.createStatement()) {
      s.execute("ALTER DATABASE " + admin.getCatalog() + " SET default_transaction_read_only = " + (on ? "on" : "off"));
      s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
          + " AND pid <> pg_backend_pid()");
    }
  }
}
