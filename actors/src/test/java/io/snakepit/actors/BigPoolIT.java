package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.RegistryEntry;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Pools of any size on a small machine, with real shims and workers: starts bounded by start-concurrency, a pool of
 * 256 that starts, serves and stops leaving nothing, and resizes under load that lose no call.
 */
class BigPoolIT {

  /** Clock ticks per second (USER_HZ), the unit of a process's start time in /proc. */
  private static final long TICKS_PER_SECOND = 100;

  /** What a test does with its node. */
  private interface NodeTest {
    void run(Snakepit snakepit) throws Exception;
  }

  /** Runs {@code test} on a node of {@code overrides}, stops it, and returns the journal entries it left open. */
  private static List<RegistryEntry> withNode(String overrides, Duration readyWithin, NodeTest test)
      throws Exception {
    ActorTestKit kit = ActorTestKit.create("big", TestNodes.config(overrides));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      snakepit.ready().toCompletableFuture().get(readyWithin.toMillis(), TimeUnit.MILLISECONDS);
      test.run(snakepit);
    } finally {
      kit.shutdownTestKit();
    }
    ActorTestKit after = ActorTestKit.create("journal", TestNodes.config(overrides));
    try {
      Registry registry = Registry.open(after.system(), after.system().settings().config().getConfig("snakepit"));
      return await(registry.client().open(), Duration.ofSeconds(60));
    } finally {
      after.shutdownTestKit();
    }
  }

  /** The Python workers (not their shims) of pool {@code pool} alive now, by pid. */
  private static List<Procs.Proc> pythons(String pool) {
    return Procs.withInstance(TestNodes.INSTANCE).stream()
        .filter(p -> Procs.cmdline(p.pid()).contains("snakepit_worker")
            && !Procs.cmdline(p.pid()).contains("snakepit-shim")
            && Procs.environ(p.pid(), "SNAKEPIT_POOL").filter(pool::equals).isPresent())
        .toList();
  }

  @Test
  void noMoreThanStartConcurrencyWorkersStartAtOnce() throws Exception {
    List<RegistryEntry> open = withNode("""
        snakepit.pools = { default = null, gated { workers = 6, start-concurrency = 2,
          adapter = "snakepit_worker.examples.slow_start:SlowStartAdapter",
          env { SNAKEPIT_EXAMPLE_SETUP_SECONDS = "1" } } }
        """, Duration.ofSeconds(90), snakepit -> {
          List<Long> starts = new ArrayList<>(pythons("gated").stream().map(Procs.Proc::startTime).sorted()
              .toList());
          assertEquals(6, starts.size(), "six workers: " + starts);
          // A worker is launched only while fewer than 2 others are starting, and each takes 1 s of setup: the
          // k-th Python to start came at least 1 s after the (k-2)-th.
          for (int k = 2; k < starts.size(); k++) {
            long gap = starts.get(k) - starts.get(k - 2);
            assertTrue(gap >= TICKS_PER_SECOND * 9 / 10, "Python " + k + " started " + gap + " ticks after Python " + (k - 2)
                + ", within one worker's setup: more than 2 were starting at once (start times " + starts + ")");
          }
        });
    assertEquals(List.of(), open, "entries left open");
  }

  @Test
  void aPoolOf256StartsServesEveryWorkerAndStopsLeavingNothing() throws Exception {
    int workers = 256;
    Set<Integer> servedBy = ConcurrentHashMap.newKeySet();
    List<RegistryEntry> open = withNode("snakepit.pools = { default = null, big { workers = " + workers + " } }\n",
        Duration.ofMinutes(6), snakepit -> {
          assertEquals(workers, pythons("big").size(), "every worker runs");
          Pool pool = snakepit.pool("big");
          // The idle worker that waited longest takes each call: 2 rounds reach every worker.
          List<java.util.concurrent.CompletableFuture<?>> calls = new ArrayList<>();
          for (int i = 0; i < 2 * workers; i++) {
            calls.add(pool.execute("pid", "{}").thenAccept(r -> servedBy.add(Integer.parseInt(r.json())))
                .toCompletableFuture());
            if (calls.size() == 8 || i == 2 * workers - 1) {
              for (java.util.concurrent.CompletableFuture<?> call : calls) {
                await(call, Duration.ofSeconds(60));
              }
              calls.clear();
            }
          }
        });
    assertEquals(workers, servedBy.size(), "calls reached every worker");
    assertEquals(List.of(), Procs.awaitGone(Procs.withInstance(TestNodes.INSTANCE), Duration.ofSeconds(10)),
        "processes left after the stop");
    assertEquals(List.of(), open, "entries left open");
  }

  @Test
  void aResizeFrom4To32AndBackTo2UnderLoadAnswersEveryCall() throws Exception {
    AtomicInteger answered = new AtomicInteger();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    Set<Integer> pidsAt32 = new TreeSet<>();
    List<Procs.Proc> at2 = new ArrayList<>();
    List<RegistryEntry> open = withNode("snakepit.pools = { default = null, elastic { workers = 4 } }\n",
        Duration.ofSeconds(90), snakepit -> {
          Pool pool = snakepit.pool("elastic");
          AtomicBoolean loading = new AtomicBoolean(true);
          CountDownLatch callersDone = new CountDownLatch(8);
          for (int c = 0; c < 8; c++) {
            Thread caller = new Thread(() -> {
              try {
                while (loading.get()) {
                  try {
                    await(pool.execute("sleep", "{\"seconds\": 0.02}"), Duration.ofSeconds(60));
                    answered.incrementAndGet();
                  } catch (Throwable e) {
                    failures.add(e);
                    if (failures.size() > 100) {
                      break;
                    }
                  }
                }
              } finally {
                callersDone.countDown();
              }
            }, "caller-" + c);
            caller.setDaemon(true);
            caller.start();
          }
          assertEquals(32, await(pool.resize(32), Duration.ofMinutes(3)), "ready workers after growing");
          pythons("elastic").forEach(p -> pidsAt32.add(p.pid()));
          assertEquals(2, await(pool.resize(2), Duration.ofMinutes(2)), "ready workers after shrinking");
          at2.addAll(pythons("elastic"));
          int before = answered.get();
          long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
          while (answered.get() < before + 50 && System.nanoTime() < until) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
          }
          loading.set(false);
          assertTrue(callersDone.await(60, TimeUnit.SECONDS), "the callers finished");
          assertTrue(answered.get() >= before + 50, "calls go on after the shrink: " + answered.get());
        });
    assertEquals(List.of(), failures, "every call is answered");
    assertEquals(32, pidsAt32.size(), "32 workers ran after growing: " + pidsAt32);
    assertEquals(2, at2.size(), "2 workers run after shrinking: " + at2);
    assertTrue(pidsAt32.containsAll(at2.stream().map(Procs.Proc::pid).toList()),
        "the shrink kept workers that were running rather than starting new ones");
    assertEquals(List.of(), open, "entries left open");
  }
}
