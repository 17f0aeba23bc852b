package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorRef;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.CircuitOpenException;
import io.snakepit.Pool;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PythonException;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitEvent;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.WorkerIdentity;
import io.snakepit.testing.EventCatalog;
import io.snakepit.testing.TestNodes;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Every event of the catalog (docs/EVENTS.md) is published by a real node: workers started, called, recycled, killed
 * from outside until their slot is tainted and the circuit opens, then closed again by a probe; a saturated queue; and
 * at three starts of one instance, an orphan settled, an impostor skipped and a damaged journal.
 */
class EventsIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final List<SnakepitEvent> SEEN = new CopyOnWriteArrayList<>();

  @AfterAll
  static void everyCataloguedEventWasPublished() throws Exception {
    Set<String> seen = new TreeSet<>();
    SEEN.forEach(e -> seen.add(e.getClass().getSimpleName()));
    Set<String> missing = new TreeSet<>(EventCatalog.catalogued());
    missing.removeAll(seen);
    assertEquals(Set.of(), missing, "catalogued events never published; seen: " + seen);
  }

  /** A node whose events all land in {@link #SEEN}, subscribed before its start settles anything. */
  private static ActorTestKit node(String name, String overrides) {
    ActorTestKit kit = ActorTestKit.create(name, TestNodes.config(overrides));
    ActorRef<SnakepitEvent> collector = kit.spawn(Behaviors.receiveMessage(event -> {
      SEEN.add(event);
      return Behaviors.same();
    }));
    kit.system().eventStream().tell(new EventStream.Subscribe<>(SnakepitEvent.class, collector));
    return kit;
  }

  /** The first event of {@code type} matching {@code test}, published within {@link #LIMIT}. */
  private static <T extends SnakepitEvent> T await(Class<T> type, Predicate<T> test) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (System.nanoTime() < deadline) {
      for (SnakepitEvent e : SEEN) {
        if (type.isInstance(e) && test.test(type.cast(e))) {
          return type.cast(e);
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no " + type.getSimpleName() + " as expected within " + LIMIT + "; seen: " + SEEN);
  }

  private static <T> T result(CompletableFuture<T> call) throws Exception {
    return call.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
  }

  @Test
  void aPoolsLifeFromReadyToACircuitClosedAgain() throws Exception {
    String instance = "ev-" + UUID.randomUUID().toString().substring(0, 8);
    ActorTestKit kit = node("events", "snakepit.instance = " + instance + "\n" + """
        snakepit.pools.default = null
        snakepit.pools.life {
          workers = 1, queue-capacity = 1, recycle.max-calls = 3
          taint { crashes = 2, window = 60s }
          circuit-breaker { max-failures = 2, reset-timeout = 1s }
          restart-backoff { min = 100ms, max = 200ms }
        }
        """);
    try {
      Pool pool = Snakepit.get(kit.system()).pool("life");
      result(pool.ready().toCompletableFuture());
      SnakepitEvent.WorkerReady ready = await(SnakepitEvent.WorkerReady.class, e -> e.pool().equals("life"));
      assertEquals(instance, ready.instance());
      assertTrue(ProcStat.read(ready.pid()).isPresent(), "WorkerReady names no live process: " + ready);
      assertEquals(ready.pid(), Integer.parseInt(result(pool.execute("pid", "{}").toCompletableFuture()).json()));
      await(SnakepitEvent.WorkerReserved.class, e -> e.worker().equals(ready.worker()));
      await(SnakepitEvent.WorkerSpawned.class, e -> e.worker().equals(ready.worker()) && e.shimPid() == ready.shimPid());
      await(SnakepitEvent.PoolReady.class, e -> e.pool().equals("life") && e.workers() == 1);

      // A call and its end; a failing one ends as ERROR.
      await(SnakepitEvent.CallEnded.class, e -> e.tool().equals("pid") && e.outcome() == SnakepitEvent.Outcome.OK);
      await(SnakepitEvent.CallStarted.class, e -> e.tool().equals("pid") && e.worker().equals(ready.worker()));
      ExecutionException failed = assertThrows(ExecutionException.class,
          () -> result(pool.execute("fail", "{}").toCompletableFuture()));
      assertInstanceOf(PythonException.class, failed.getCause());
      await(SnakepitEvent.CallEnded.class, e -> e.tool().equals("fail")
          && e.outcome() == SnakepitEvent.Outcome.ERROR);

      // The third call recycles the worker: recycled, replaced, exited (stopped).
      result(pool.execute("ping", "{}").toCompletableFuture());
      await(SnakepitEvent.WorkerRecycled.class, e -> e.worker().equals(ready.worker()));
      SnakepitEvent.WorkerReplaced replaced = await(SnakepitEvent.WorkerReplaced.class,
          e -> e.worker().equals(ready.worker()));
      assertEquals("recycled", replaced.why());
      SnakepitEvent.WorkerExited stopped = await(SnakepitEvent.WorkerExited.class,
          e -> e.worker().equals(ready.worker()));
      assertEquals(List.of("stopped", ready.pid()), List.of(stopped.reason(), stopped.pid()));
      SnakepitEvent.WorkerReady second = await(SnakepitEvent.WorkerReady.class,
          e -> e.worker().equals(replaced.replacement()));

      // Saturated: one call running, one queued (queue-capacity 1), the third refused.
      CompletableFuture<?> running = pool.execute("sleep", "{\"seconds\": 1}").toCompletableFuture();
      CompletableFuture<?> queued = pool.execute("sleep", "{\"seconds\": 0}").toCompletableFuture();
      ExecutionException refused = assertThrows(ExecutionException.class,
          () -> result(pool.execute("ping", "{}").toCompletableFuture()));
      assertInstanceOf(PoolSaturatedException.class, refused.getCause());
      await(SnakepitEvent.PoolSaturated.class, e -> e.pool().equals("life") && e.queued() == 1);
      result(running);
      result(queued);

      // Killed from outside without a call, twice: each exit says killed; the second taints the slot and opens the
      // circuit (two failures in a row).
      int victim = second.pid();
      ProcessHandle.of(victim).orElseThrow().destroyForcibly();
      SnakepitEvent.WorkerExited killed = await(SnakepitEvent.WorkerExited.class, e -> e.pid() == victim);
      assertEquals(List.of("killed", false), List.of(killed.reason(), killed.duringCall()));
      SnakepitEvent.WorkerReplaced crashed = await(SnakepitEvent.WorkerReplaced.class,
          e -> e.worker().equals(second.worker()));
      assertEquals("crashed", crashed.why());
      SnakepitEvent.WorkerReady third = await(SnakepitEvent.WorkerReady.class,
          e -> e.worker().equals(crashed.replacement()));
      ProcessHandle.of(third.pid()).orElseThrow().destroyForcibly();
      SnakepitEvent.WorkerTainted tainted = await(SnakepitEvent.WorkerTainted.class,
          e -> e.worker().equals(third.worker()));
      assertEquals(2, tainted.crashes());
      SnakepitEvent.CircuitOpened opened = await(SnakepitEvent.CircuitOpened.class, e -> e.pool().equals("life"));
      assertEquals(2, opened.failuresInARow());
      assertInstanceOf(CircuitOpenException.class, assertThrows(
          ExecutionException.class, () -> result(pool.execute("ping", "{}").toCompletableFuture())).getCause());

      // After the reset the probe goes to the next worker and closes the circuit.
      Thread.sleep(1100);
      long deadline = System.nanoTime() + LIMIT.toNanos();
      boolean answered = false;
      while (!answered && System.nanoTime() < deadline) {
        try {
          answered = result(pool.execute("ping", "{}").toCompletableFuture()).json().contains("pong");
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof CircuitOpenException)) {
            throw e;
          }
          Thread.sleep(200);
        }
      }
      assertTrue(answered, "no call got through after the circuit's reset");
      await(SnakepitEvent.CircuitClosed.class, e -> e.pool().equals("life"));
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void aWorkersStateIsSavedRestoredIntoItsReplacementAndRefusedPastItsBound() throws Exception {
    ActorTestKit kit = node("events-state", """
        snakepit.pools.default = null
        snakepit.pools.counter {
          workers = 1, adapter = "snakepit_worker.examples.counter:CounterAdapter", recycle.max-calls = 2
        }
        snakepit.pools.growing {
          workers = 1, adapter = "snakepit_worker.examples.counter:GrowingStateAdapter", recycle.max-calls = 2
          snapshot.max-bytes = 1KiB
        }
        """);
    try {
      Pool counter = Snakepit.get(kit.system()).pool("counter");
      result(counter.ready().toCompletableFuture());
      result(counter.execute("incr", "{}").toCompletableFuture());
      result(counter.execute("incr", "{}").toCompletableFuture()); // recycled: its state goes to the next worker
      SnakepitEvent.StateSaved saved = await(SnakepitEvent.StateSaved.class, e -> e.pool().equals("counter"));
      SnakepitEvent.WorkerReplaced replaced = await(SnakepitEvent.WorkerReplaced.class,
          e -> e.worker().equals(saved.worker()));
      SnakepitEvent.StateRestored restored = await(SnakepitEvent.StateRestored.class,
          e -> e.worker().equals(replaced.replacement()));
      assertEquals(saved.bytes(), restored.bytes());

      // 400 KiB of state against a bound of 1 KiB, asked for as the worker is recycled.
      Pool growing = Snakepit.get(kit.system()).pool("growing");
      result(growing.ready().toCompletableFuture());
      result(growing.execute("incr", "{}").toCompletableFuture());
      result(growing.execute("incr", "{}").toCompletableFuture());
      SnakepitEvent.SnapshotFailed failed = await(SnakepitEvent.SnapshotFailed.class,
          e -> e.pool().equals("growing"));
      assertTrue(failed.reason().contains("over snapshot.max-bytes 1024"), failed.reason());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void outputPastThePoolsRateIsReportedAsDroppedLines() throws Exception {
    ActorTestKit kit = node("events-output", """
        snakepit.pools.default = null
        snakepit.pools.loud {
          workers = 1, adapter = "snakepit_worker.examples.chatty:ChattyAdapter"
          output-rate = 10, output-burst = 5, output-dropped-report = 200ms
        }
        """);
    try {
      Pool pool = Snakepit.get(kit.system()).pool("loud");
      result(pool.ready().toCompletableFuture());
      result(pool.execute("say", "{\"text\": \"loud\", \"count\": 500}").toCompletableFuture());
      // 500 lines against a burst of 5: most are dropped, and reported within a report interval or two.
      SnakepitEvent.OutputDropped dropped = await(SnakepitEvent.OutputDropped.class, e -> e.pool().equals("loud"));
      assertTrue(dropped.lines() > 0 && dropped.lines() <= 500, "lines dropped: " + dropped.lines());
      assertTrue(dropped.worker().startsWith("loud-0-"), dropped.worker());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void aPlannedRestartDetachesAWorkerAndTheNextNodeAdoptsIt() throws Exception {
    String instance = "ev-" + UUID.randomUUID().toString().substring(0, 8);
    Path dataDir = Files.createTempDirectory("snakepit-events-");
    String overrides = "snakepit.instance = " + instance + "\nsnakepit.data-dir = \"" + dataDir + "\"\n"
        + "snakepit.pools.default = null\nsnakepit.pools.kept { workers = 1 }\n";
    ActorTestKit first = node("detaching", overrides);
    SnakepitEvent.WorkerDetached detached;
    try {
      result(Snakepit.get(first.system()).pool("kept").ready().toCompletableFuture());
      assertEquals(1, result(Snakepit.get(first.system()).detach(Duration.ofSeconds(60)).toCompletableFuture()),
          "the one worker is left running");
      detached = await(SnakepitEvent.WorkerDetached.class, e -> e.instance().equals(instance));
    } finally {
      first.shutdownTestKit();
    }
    int pid = detached.pid();
    assertTrue(ProcStat.read(pid).isPresent(), "the detached worker outlives its node");
    ActorTestKit second = node("adopting", overrides);
    try {
      Pool pool = Snakepit.get(second.system()).pool("kept");
      result(pool.ready().toCompletableFuture());
      SnakepitEvent.WorkerAdopted adopted = await(SnakepitEvent.WorkerAdopted.class,
          e -> e.instance().equals(instance));
      assertEquals(List.of(detached.worker(), pid), List.of(adopted.worker(), adopted.pid()));
      assertEquals("\"pong\"", result(pool.execute("ping", "{}").toCompletableFuture()).json());
    } finally {
      second.shutdownTestKit();
    }
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (ProcStat.read(pid).filter(p -> p.state() != 'Z').isPresent() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(ProcStat.read(pid).filter(p -> p.state() != 'Z').isEmpty(), "stopped with the node that adopted it");
  }

  @Test
  void startsSettleAnOrphanSkipAnImpostorAndReportADamagedJournal() throws Exception {
    String instance = "ev-" + UUID.randomUUID().toString().substring(0, 8);
    Path dataDir = Files.createTempDirectory("snakepit-events-");
    String overrides = "snakepit.instance = " + instance + "\nsnakepit.data-dir = \"" + dataDir + "\"\n"
        + "snakepit.pools.default = null\n";
    String orphanNonce = "o" + UUID.randomUUID().toString().substring(0, 8);
    String impostorNonce = "i" + UUID.randomUUID().toString().substring(0, 8);
    ProcessBuilder marked = new ProcessBuilder("sleep", "1000");
    marked.environment().put("SNAKEPIT_INSTANCE", instance);
    marked.environment().put("SNAKEPIT_NONCE", orphanNonce);
    Process orphan = marked.start();
    Process impostor = new ProcessBuilder("sleep", "1000").start(); // no marker: not this instance's
    try {
      ActorTestKit journaling = ActorTestKit.create("journaling", TestNodes.config(overrides));
      try {
        Registry r = Registry.open(journaling.system(), journaling.system().settings().config()
            .getConfig("snakepit"));
        journal(r, orphanNonce, (int) orphan.pid());
        journal(r, impostorNonce, (int) impostor.pid());
      } finally {
        journaling.shutdownTestKit();
      }

      ActorTestKit settling = node("settling", overrides);
      try {
        Snakepit.get(settling.system());
        SnakepitEvent.OrphanSettled settled = await(SnakepitEvent.OrphanSettled.class,
            e -> e.pid() == orphan.pid());
        assertEquals(List.of("killed", List.of((int) orphan.pid())), List.of(settled.settlement(), settled.processes()));
        assertTrue(orphan.waitFor(10, TimeUnit.SECONDS), "the settled orphan is still alive");
        SnakepitEvent.ImpostorSkipped skipped = await(SnakepitEvent.ImpostorSkipped.class,
            e -> e.pid() == impostor.pid());
        assertTrue(!skipped.why().isEmpty() && impostor.isAlive(), "the impostor: " + skipped);
      } finally {
        settling.shutdownTestKit();
      }

      Path file = dataDir.resolve("registry-" + instance + ".mv.db");
      try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
        byte[] noise = new byte[(int) f.length()];
        new Random(7).nextBytes(noise);
        f.write(noise);
      }
      ActorTestKit damaged = node("damaged", overrides);
      try {
        Snakepit.get(damaged.system());
        SnakepitEvent.JournalDamaged report = await(SnakepitEvent.JournalDamaged.class,
            e -> e.instance().equals(instance));
        assertTrue(report.what().contains(file.toString()), "the event names no file: " + report.what());
      } finally {
        damaged.shutdownTestKit();
      }
    } finally {
      orphan.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      impostor.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Journals {@code pid} (with its real start time) as a worker an earlier JVM of this instance spawned. */
  private static void journal(Registry r, String nonce, int pid) throws Exception {
    long start = ProcStat.read(pid).orElseThrow().startTime();
    r.client().reserve(nonce, "life-0-" + nonce, "earlier", BootId.current()).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    r.client().spawned(nonce, new SpawnedWorker(new WorkerIdentity(pid, pid, start, BootId.current(), pid, start),
        "/nowhere")).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
