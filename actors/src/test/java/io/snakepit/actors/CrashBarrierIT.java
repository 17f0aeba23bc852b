package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.eventually;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.CircuitOpenException;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.shim.ProcStat;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNode;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Pools under failure: retries of idempotent calls, the circuit breaker, and a storm of crashes. */
class CrashBarrierIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("barrier", """
      snakepit.pools {
        default { workers = 2, circuit-breaker.max-failures = 0 }
        fragile { workers = 1, circuit-breaker { max-failures = 3, reset-timeout = 1s }, taint.crashes = 100 }
        storm { workers = 4, circuit-breaker.max-failures = 0, taint.crashes = 1000, health.interval = 0s,
                queue-timeout = 2s, restart-backoff.max = 1s }
        # Taint and breaker would both act after 2 crashes, and the backoff would be 20 s or more.
        crashy { workers = 1, taint { crashes = 2, window = 60s }, restart-backoff.min = 20s,
                 circuit-breaker { max-failures = 2, reset-timeout = 60s }, health.interval = 0s }
        spared { workers = 1, spares = 1, health.interval = 0s }
        lonely { workers = 1, taint { crashes = 2, window = 60s }, restart-backoff.min = 3s,
                 circuit-breaker.max-failures = 0, health.interval = 0s }
      }
      """, Duration.ofSeconds(90));
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
  }

  @Test
  void anIdempotentCallIsRetriedOnAnotherWorkerAfterACrash() throws Exception {
    Path marker = Files.createTempDirectory("crash-once").resolve("crashed");
    String args = "{\"path\": \"" + marker + "\"}";
    Result r = await(snakepit.pool("default").execute("crash_once", args,
        CallOptions.defaults().withIdempotent(true)));
    assertEquals("\"survived\"", r.json());
    assertTrue(Files.exists(marker), "the first attempt did not run");
  }

  @Test
  void aCallThatIsNotIdempotentFailsWithTheCrash() throws Exception {
    Path marker = Files.createTempDirectory("crash-once").resolve("crashed");
    WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(snakepit.pool("default")
        .execute("crash_once", "{\"path\": \"" + marker + "\"}")));
    assertEquals("killed by signal 9 (SIGKILL)", e.exitStatus());
  }

  @Test
  void theCircuitOpensAfterFailuresInARowAndAProbeClosesIt() throws Exception {
    Pool fragile = snakepit.pool("fragile");
    awaitAnswer(fragile);
    // Three calls in a row past their deadline on the pool's one worker: each counts as the worker's failure.
    for (int i = 0; i < 3; i++) {
      assertInstanceOf(CallTimeoutException.class, failure(fragile.execute("sleep", "{\"seconds\": 5}",
          CallOptions.defaults().withTimeout(Duration.ofMillis(200)))));
    }
    CircuitOpenException open = assertInstanceOf(CircuitOpenException.class, failure(fragile.execute("ping", "{}")));
    assertTrue(open.getMessage().contains("circuit open after 3 failures"), open.getMessage());
    Thread.sleep(1200);
    awaitAnswer(fragile); // the probe, once a worker is back
    assertEquals("\"pong\"", await(fragile.execute("ping", "{}")).json());
  }

  @Test
  void aWorkerThatCrashesServingACallIsReplacedAtOnceHoweverOften() throws Exception {
    Pool crashy = snakepit.pool("crashy");
    awaitAnswer(crashy);
    for (int i = 0; i < 5; i++) {
      String before = await(crashy.execute("pid", "{}")).json();
      WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class,
          failure(crashy.execute("crash", "{\"signal\": 9}")));
      assertEquals("killed by signal 9 (SIGKILL)", e.exitStatus());
      // Neither tainted (a 20 s backoff from the second crash on) nor cut off by the breaker (2 failures).
      long t0 = System.nanoTime();
      String after = crashy.execute("pid", "{}").toCompletableFuture().get(15, TimeUnit.SECONDS).json();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(!after.equals(before), "crash " + (i + 1) + " did not replace worker " + before);
      System.out.println("call-caused crash " + (i + 1) + ": the next call was answered after " + ms + " ms");
    }
  }

  @Test
  void aSlotWhoseWorkersDieWithoutACallIsTaintedAndBacksOff() throws Exception {
    Pool lonely = snakepit.pool("lonely");
    awaitAnswer(lonely);
    List<Long> waits = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      int pid = Integer.parseInt(await(lonely.execute("pid", "{}")).json());
      Procs.Proc worker = Procs.of(pid).orElseThrow();
      long t0 = System.nanoTime();
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly); // SIGKILL while idle
      assertEquals(List.of(), Procs.awaitGone(List.of(worker), Duration.ofSeconds(10)));
      Thread.sleep(500); // the pool learns of the exit: the next call must not reach the dead worker and crash with it
      String next = lonely.execute("pid", "{}").toCompletableFuture().get(60, TimeUnit.SECONDS).json();
      assertTrue(!next.equals(String.valueOf(pid)), "worker " + pid + " still answers");
      waits.add((System.nanoTime() - t0) / 1_000_000);
    }
    System.out.println("deaths without a call: next call answered after " + waits + " ms");
    // taint.crashes = 2: the second and third replacements wait restart-backoff (3 s, then 6 s).
    assertTrue(waits.get(1) >= 3000, "the second death was not backed off: " + waits);
    assertTrue(waits.get(2) >= 6000, "the third death was not backed off twice as long: " + waits);
  }

  @Test
  void aWarmSpareTakesTheCrashedWorkersPlaceAndANewSpareStarts() throws Exception {
    Pool spared = snakepit.pool("spared");
    awaitAnswer(spared);
    List<Procs.Proc> before = pythons("/spared-");
    assertEquals(2, before.size(), "one worker and one spare: " + before);
    int serving = Integer.parseInt(await(spared.execute("pid", "{}")).json());
    assertInstanceOf(WorkerCrashedException.class, failure(spared.execute("crash", "{\"signal\": 9}")));
    int next = Integer.parseInt(await(spared.execute("pid", "{}")).json());
    assertTrue(next != serving, "the crashed worker " + serving + " answered");
    assertTrue(before.stream().anyMatch(p -> p.pid() == next), "the call was not served by the spare started"
        + " before the crash: " + next + " is not one of " + before);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<Procs.Proc> after = pythons("/spared-");
    while (!(after.size() == 2 && !before.containsAll(after)) && System.nanoTime() < deadline) {
      Thread.sleep(100);
      after = pythons("/spared-");
    }
    assertEquals(2, after.size(), "no new spare: " + after);
    assertTrue(after.stream().anyMatch(p -> p.pid() == next) && !before.containsAll(after),
        "expected the promoted spare " + next + " and a new spare: " + after);
  }

  /** The live Python workers whose socket path contains {@code marker} (the pool's worker ids). */
  private static List<Procs.Proc> pythons(String marker) {
    return Procs.withInstance(TestNodes.INSTANCE).stream()
        .filter(p -> Procs.cmdline(p.pid()).contains("snakepit_worker")
            && !Procs.cmdline(p.pid()).contains("snakepit-shim") && Procs.cmdline(p.pid()).contains(marker))
        .toList();
  }

  /** Waits until the pool answers a ping (its replacement worker is up and the circuit lets the call through). */
  private static void awaitAnswer(Pool pool) throws Exception {
    eventually(Duration.ofSeconds(20), () -> await(pool.execute("ping", "{}")));
  }

  @Test
  void aStormOfCrashesEndsWithAFullPoolEveryCallAnsweredAndEveryTreeGone() throws Exception {
    Pool storm = snakepit.pool("storm");
    int requests = 200;
    int concurrency = 16;
    List<Procs.Proc> killed = Collections.synchronizedList(new ArrayList<>());
    Map<String, Integer> outcomes = new ConcurrentHashMap<>();
    Random random = new Random(42);
    Thread killer = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        List<Procs.Proc> workers = Procs.withInstance(TestNodes.INSTANCE).stream()
            .filter(p -> Procs.cmdline(p.pid()).contains("snakepit_worker")
                && !Procs.cmdline(p.pid()).contains("snakepit-shim")
                && Procs.cmdline(p.pid()).contains("/storm-")) // the storm pool's sockets
            .toList();
        if (!workers.isEmpty()) {
          Procs.Proc victim = workers.get(random.nextInt(workers.size()));
          killed.add(victim);
          ProcessHandle.of(victim.pid()).filter(h -> victim.alive()).ifPresent(ProcessHandle::destroyForcibly);
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    killer.start();
    List<CompletableFuture<Result>> inFlight = new ArrayList<>();
    try {
      for (int i = 0; i < requests; i++) {
        if (inFlight.size() == concurrency) {
          settle(inFlight.remove(0), outcomes);
        }
        inFlight.add(storm.execute("sleep", "{\"seconds\": 0.02}").toCompletableFuture());
      }
      for (CompletableFuture<Result> f : inFlight) {
        settle(f, outcomes);
      }
    } finally {
      killer.interrupt();
      killer.join(10_000);
      assertFalse(killer.isAlive(), "the killer thread did not stop within 10 s");
    }
    System.out.println("crash storm: " + requests + " requests at concurrency " + concurrency + ", " + killed.size()
        + " workers killed: " + outcomes);
    assertEquals(requests, outcomes.values().stream().mapToInt(Integer::intValue).sum(), "a request hung");
    assertTrue(outcomes.getOrDefault("ok", 0) > 0, outcomes.toString());
    assertEquals(List.of(), Procs.awaitGone(List.copyOf(killed), Duration.ofSeconds(10)), "a killed tree lives on");
    // Back to full size: four distinct live workers answer.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    java.util.Set<String> pids = new java.util.HashSet<>();
    while (pids.size() < 4 && System.nanoTime() < deadline) {
      List<CompletableFuture<Result>> probes = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        probes.add(storm.execute("sleep_pid", "{\"seconds\": 0.3}").toCompletableFuture());
      }
      pids.clear();
      for (CompletableFuture<Result> p : probes) {
        try {
          pids.add(p.get(30, TimeUnit.SECONDS).json());
        } catch (ExecutionException e) {
          // a worker still starting
        }
      }
    }
    assertEquals(4, pids.size(), "the pool did not return to 4 workers: " + pids);
    for (String pid : pids) {
      assertTrue(ProcStat.read(Integer.parseInt(pid)).isPresent());
    }
  }

  /** Waits for one request's outcome (bounded: a request that hangs fails the test) and counts it by type. */
  private static void settle(CompletableFuture<Result> f, Map<String, Integer> outcomes) throws Exception {
    String kind;
    try {
      f.get(60, TimeUnit.SECONDS);
      kind = "ok";
    } catch (ExecutionException e) {
      assertInstanceOf(SnakepitException.class, e.getCause(), "an untyped error");
      kind = ((SnakepitException) e.getCause()).kind();
    }
    outcomes.merge(kind, 1, Integer::sum);
  }
}
