package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorRef;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitEvent;
import io.snakepit.shim.ProcStat;
import io.snakepit.testing.Awaits;
import io.snakepit.testing.TestNodes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A worker's state (its adapter's snapshot() and restore(state)) outlives the worker: kept by the pool, restored into
 * the slot's next worker after a recycle and after a kill -9, refused past snapshot.max-bytes, and dropped when it
 * cannot be restored. Real workers, killed for real; /proc says the old ones are gone.
 */
class WorkerStateIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<SnakepitEvent> SEEN = new CopyOnWriteArrayList<>();
  private static ActorTestKit kit;
  private static Snakepit snakepit;

  @BeforeAll
  static void start() throws Exception {
    kit = ActorTestKit.create("state", TestNodes.config("""
        snakepit.pools.default = null
        snakepit.pools.counter {
          workers = 1, adapter = "snakepit_worker.examples.counter:CounterAdapter"
          recycle.max-calls = 5, snapshot.interval = 200ms
        }
        snakepit.pools.growing {
          workers = 1, adapter = "snakepit_worker.examples.counter:GrowingStateAdapter", snapshot.interval = 100ms
        }
        snakepit.pools.refusing {
          workers = 1, adapter = "snakepit_worker.examples.counter:RestoreFailsAdapter", recycle.max-calls = 2
          restart-backoff { min = 100ms, max = 200ms }
        }
        """));
    ActorRef<SnakepitEvent> collector = kit.spawn(Behaviors.receiveMessage(event -> {
      SEEN.add(event);
      return Behaviors.same();
    }));
    kit.system().eventStream().tell(new EventStream.Subscribe<>(SnakepitEvent.class, collector));
    snakepit = Snakepit.get(kit.system());
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void aCounterKeepsItsCountAcrossARecycleAndAcrossAKill9() throws Exception {
    Pool pool = ready("counter");
    int first = pid(pool);
    for (int i = 0; i < 4; i++) {
      call(pool, "incr"); // with pid: 5 calls, the last one recycles the worker
    }
    JsonNode afterRecycle = until(() -> {
      JsonNode count = call(pool, "count");
      return count.get("pid").asInt() != first ? count : null;
    });
    assertEquals(4, afterRecycle.get("count").asInt(), "the count after a recycle: " + afterRecycle);
    assertEquals(first, afterRecycle.get("restored").asInt(), "restored from the recycled worker's snapshot");
    assertTrue(ProcStat.read(first).isEmpty(), "the recycled worker " + first + " is still in /proc");
    int second = afterRecycle.get("pid").asInt();
    await(SnakepitEvent.StateRestored.class, e -> e.pool().equals("counter") && e.bytes() > 0);

    call(pool, "incr");
    call(pool, "incr"); // 6
    // The next interval's snapshot holds the 6: wait for it, then kill the worker without warning.
    long sawSix = SEEN.size();
    await(SnakepitEvent.StateSaved.class, e -> e.pool().equals("counter") && SEEN.indexOf(e) >= sawSix);
    ProcessHandle.of(second).orElseThrow().destroyForcibly();
    JsonNode afterCrash = until(() -> {
      JsonNode count = call(pool, "count");
      return count.get("pid").asInt() != second ? count : null;
    });
    assertEquals(6, afterCrash.get("count").asInt(), "the count after a kill -9: " + afterCrash);
    assertEquals(second, afterCrash.get("restored").asInt());
    assertTrue(ProcStat.read(second).isEmpty(), "the killed worker " + second + " is still in /proc");
  }

  @Test
  void aStateOverMaxBytesIsRefusedNamingTheSettingAndTheSlotKeepsTheLastOneThatFit() throws Exception {
    Pool pool = ready("growing");
    call(pool, "incr");
    call(pool, "incr"); // 800 KiB of state: kept
    long before = SEEN.size();
    await(SnakepitEvent.StateSaved.class, e -> e.pool().equals("growing") && e.bytes() > 800 << 10
        && SEEN.indexOf(e) >= before);
    int worker = call(pool, "incr").get("pid").asInt(); // 1.2 MiB: refused
    SnakepitEvent.SnapshotFailed refused = await(SnakepitEvent.SnapshotFailed.class,
        e -> e.pool().equals("growing"));
    assertTrue(refused.reason().contains("over snapshot.max-bytes 1048576")
        && refused.reason().contains("raise snakepit.pools.growing.snapshot.max-bytes"), refused.reason());
    ProcessHandle.of(worker).orElseThrow().destroyForcibly();
    JsonNode after = until(() -> {
      JsonNode count = call(pool, "count");
      return count.get("pid").asInt() != worker ? count : null;
    });
    assertEquals(2, after.get("count").asInt(), "the last state that fit: " + after);
  }

  @Test
  void aStateTheNextWorkerCannotRestoreIsDroppedAndTheSlotStartsEmpty() throws Exception {
    Pool pool = ready("refusing");
    int first = pid(pool);
    call(pool, "incr"); // the second call recycles the worker, whose snapshot holds a count of 1
    SnakepitEvent.WorkerExited failed = await(SnakepitEvent.WorkerExited.class,
        e -> e.pool().equals("refusing") && e.reason().equals("start-failed"));
    assertTrue(failed.status().contains("6"), "the worker that could not restore exits 6: " + failed.status());
    JsonNode after = until(() -> {
      JsonNode count = call(pool, "count");
      return count.get("pid").asInt() != first ? count : null;
    });
    assertEquals(0, after.get("count").asInt(), "the slot starts without the state it could not restore");
    assertTrue(after.get("restored").isNull(), after.toString());
    assertTrue(ProcStat.read(first).isEmpty() && (failed.pid() == 0 || ProcStat.read(failed.pid()).isEmpty()),
        "a worker of the refused state is still in /proc");
  }

  @Test
  void theLastIntervalsStateIsJournaledAndRestoredByTheNextNodeOfTheSameInstance() throws Exception {
    // snapshot.on-stop = off: only the interval's snapshots reach the journal, as before a kill -9 of the JVM.
    int firstPid = countThreeThenStop("snapshot.interval = 100ms, snapshot.on-stop = off", true);
    JsonNode count = countInNextNode("snapshot.interval = 100ms, snapshot.on-stop = off");
    assertNotEquals(firstPid, count.get("pid").asInt(), "a new worker in a new node: " + count);
    assertEquals(3, count.get("count").asInt(), "the count the first node journaled: " + count);
  }

  @Test
  void aPlannedStopTakesTheStateAndTheNextNodeOfTheSameInstanceRestoresIt() throws Exception {
    // No interval: the only snapshot is the one the node's stop asks for (snapshot.on-stop, the default).
    int firstPid = countThreeThenStop("", false);
    JsonNode count = countInNextNode("");
    assertNotEquals(firstPid, count.get("pid").asInt(), "a new worker in a new node: " + count);
    assertEquals(3, count.get("count").asInt(), "the count taken as the first node stopped: " + count);
  }

  @Test
  void aJournaledStateTheNextNodesAdapterCannotRestoreDoesNotFailThePoolsStart() throws Exception {
    countThreeThenStop("", false, TestNodes.INSTANCE + "-refused");
    // The next node's pool of the same name runs an adapter that cannot restore: its first worker fails with the
    // state, the pool drops it and starts the slot empty, and the pool's start succeeds.
    ActorTestKit second = journaledNode("state-refused", TestNodes.INSTANCE + "-refused",
        "adapter = \"snakepit_worker.examples.counter:RestoreFailsAdapter\"");
    try {
      Pool pool = Snakepit.get(second.system()).pool("journaled");
      Awaits.await(pool.ready(), LIMIT);
      JsonNode count = call(pool, "count");
      assertEquals(0, count.get("count").asInt(), "started without the state it could not restore: " + count);
      assertTrue(count.get("restored").isNull(), count.toString());
    } finally {
      second.shutdownTestKit();
    }
  }

  /** A node of its own instance whose pool "journaled" has a counter with {@code settings}. */
  private static ActorTestKit journaledNode(String name, String instance, String settings) {
    return ActorTestKit.create(name, TestNodes.config("snakepit.instance = \"" + instance + "\"\n"
        + "snakepit.pools.default = null\n"
        + "snakepit.pools.journaled { workers = 1, adapter = \"snakepit_worker.examples.counter:CounterAdapter\" }\n"
        + (settings.isEmpty() ? "" : "snakepit.pools.journaled { " + settings + " }\n")));
  }

  /**
   * Counts to 3 in a fresh node (instance "state-" plus a test's own suffix), waiting for two interval snapshots
   * after the third call when {@code awaitInterval}, then stops the node; returns its worker's pid, gone by then.
   */
  private int countThreeThenStop(String settings, boolean awaitInterval) throws Exception {
    return countThreeThenStop(settings, awaitInterval, instance(settings));
  }

  private int countThreeThenStop(String settings, boolean awaitInterval, String instance) throws Exception {
    List<SnakepitEvent.StateSaved> saved = new CopyOnWriteArrayList<>();
    ActorTestKit first = journaledNode("state-first", instance, settings);
    int firstPid;
    try {
      first.system().eventStream().tell(new EventStream.Subscribe<>(SnakepitEvent.StateSaved.class,
          first.spawn(Behaviors.receiveMessage(event -> {
            saved.add(event);
            return Behaviors.same();
          }))));
      Pool pool = Snakepit.get(first.system()).pool("journaled");
      Awaits.await(pool.ready(), LIMIT);
      firstPid = pid(pool);
      for (int i = 0; i < 3; i++) {
        call(pool, "incr");
      }
      if (awaitInterval) {
        // A snapshot waits for running calls, and calls wait for it: the second one from now started after the
        // third incr, so it holds 3.
        int before = saved.size();
        until(() -> saved.size() >= before + 2 ? true : null);
      } else {
        assertTrue(saved.isEmpty(), "no snapshot before the stop without an interval: " + saved);
      }
    } finally {
      first.shutdownTestKit(); // a planned stop: the node waits for its journal's writes
    }
    assertTrue(ProcStat.read(firstPid).isEmpty(), "the first node's worker is gone: " + firstPid);
    return firstPid;
  }

  /** The count of pool "journaled" in the next node of the same instance. */
  private JsonNode countInNextNode(String settings) throws Exception {
    ActorTestKit second = journaledNode("state-second", instance(settings), settings);
    try {
      Pool pool = Snakepit.get(second.system()).pool("journaled");
      Awaits.await(pool.ready(), LIMIT);
      return call(pool, "count");
    } finally {
      second.shutdownTestKit();
    }
  }

  /** Each test's nodes are their own instance: no state of one test is restored by another's. */
  private static String instance(String settings) {
    return TestNodes.INSTANCE + (settings.isEmpty() ? "-on-stop" : "-interval");
  }

  private static Pool ready(String name) throws Exception {
    Pool pool = snakepit.pool(name);
    Awaits.await(pool.ready(), LIMIT);
    return pool;
  }

  private static int pid(Pool pool) throws Exception {
    return call(pool, "pid").asInt();
  }

  private static JsonNode call(Pool pool, String tool) throws Exception {
    return JSON.readTree(Awaits.await(pool.execute(tool, "{}"), LIMIT).json());
  }

  /** What {@code attempt} returns once it returns something (a failure counts as nothing yet), within LIMIT. */
  private static <T> T until(Callable<T> attempt) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        T value = attempt.call();
        if (value != null) {
          return value;
        }
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("nothing as expected within " + LIMIT + "; last failure: " + last + "; events: " + SEEN,
        last);
  }

  private static <T extends SnakepitEvent> T await(Class<T> type, Predicate<T> test) throws Exception {
    return until(() -> SEEN.stream().filter(type::isInstance).map(type::cast).filter(test)
        .findFirst().orElse(null));
  }
}
