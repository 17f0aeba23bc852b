package io.snakepit.actors;

import static io.snakepit.actors.PoolRoundTripIT.await;
import static io.snakepit.actors.PoolRoundTripIT.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.CallOptions;
import io.snakepit.CircuitOpenException;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.shim.ProcStat;
import io.snakepit.testing.Procs;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pools under failure: retries of idempotent calls, the circuit breaker, and a storm of crashes. */
class CrashBarrierIT {
  private static ActorTestKit kit;
  private static Snakepit snakepit;

  @BeforeAll
  static void start() throws Exception {
    kit = ActorTestKit.create("barrier", TestNodes.config("""
        snakepit.pools {
          default { workers = 2, circuit-breaker.max-failures = 0 }
          fragile { workers = 1, circuit-breaker { max-failures = 3, reset-timeout = 1s }, taint.crashes = 100 }
          storm { workers = 4, circuit-breaker.max-failures = 0, taint.crashes = 1000, health.interval = 0s,
                  queue-timeout = 2s, restart-backoff.max = 1s }
        }
        """));
    snakepit = Snakepit.get(kit.system());
    snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
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
    // Three crashing calls queued on the pool's one worker: each kills the worker that takes it, in a row.
    List<CompletableFuture<Result>> crashes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      crashes.add(fragile.execute("crash", "{\"signal\": 9}").toCompletableFuture());
    }
    for (CompletableFuture<Result> c : crashes) {
      assertInstanceOf(WorkerCrashedException.class, failure(c));
    }
    CircuitOpenException open = assertInstanceOf(CircuitOpenException.class, failure(fragile.execute("ping", "{}")));
    assertTrue(open.getMessage().contains("circuit open after 3 failures"), open.getMessage());
    Thread.sleep(1200);
    awaitAnswer(fragile); // the probe, once a worker is back
    assertEquals("\"pong\"", await(fragile.execute("ping", "{}")).json());
  }

  /** Waits until the pool answers a ping (its replacement worker is up and the circuit lets the call through). */
  private static void awaitAnswer(Pool pool) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        await(pool.execute("ping", "{}"));
        return;
      } catch (ExecutionException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
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
