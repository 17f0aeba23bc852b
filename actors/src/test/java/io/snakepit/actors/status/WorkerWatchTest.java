package io.snakepit.actors.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.snakepit.NodeStatus;
import io.snakepit.SnakepitEvent;
import io.snakepit.SnakepitEvent.Outcome;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLinks;
import io.snakepit.actors.pool.PoolSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The watch on events made up here: states, calls and latency, slots moved by spares, a slot's last exit and its
 * restarts, and a health recycle asked for once, of the lowest worker, only after enough evaluations. The "worker"
 * is this JVM's own process, so that /proc has something to read.
 */
class WorkerWatchTest {
  private static final ActorTestKit KIT = ActorTestKit.create();
  private static final Instant T = Instant.parse("2026-12-03T07:00:00Z");
  private static final int PID = (int) ProcessHandle.current().pid();
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final TestProbe<PoolActor.Command> coordinator = KIT.createTestProbe();

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  private WorkerWatch watch(String pool) {
    Config snakepit = ConfigFactory.load(ConfigFactory.parseString("snakepit.pools.p { adapter = \"m:A\"\n"
        + pool + "\n}")).getConfig("snakepit");
    return new WorkerWatch("i", snakepit.getConfig("status"), List.of(new WorkerWatch.Pool(
        PoolSettings.fromConfig("p", snakepit), PoolLinks.to(coordinator.ref()))), now::get);
  }

  private void ready(WorkerWatch w, String id) {
    w.record(new SnakepitEvent.WorkerReserved(T, "i", "p", id));
    w.record(new SnakepitEvent.WorkerSpawned(T, "i", "p", id, 42));
    w.record(new SnakepitEvent.WorkerReady(T, "i", "p", id, PID, PID, 42, "b", Duration.ofMillis(100)));
  }

  private static NodeStatus.WorkerStatus worker(WorkerWatch w, String id) {
    return w.status().pool("p").workers().stream().filter(x -> x.id().equals(id)).findFirst().orElse(null);
  }

  @Test
  void workersMoveThroughTheirStatesAndCountTheirCalls() {
    WorkerWatch w = watch("");
    w.record(new SnakepitEvent.WorkerReserved(T, "i", "p", "p-0-1"));
    NodeStatus.WorkerStatus starting = worker(w, "p-0-1");
    assertEquals("starting", starting.state());
    assertEquals(0, starting.pid());
    assertEquals(0, starting.slot());
    w.record(new SnakepitEvent.WorkerReady(T, "i", "p", "p-0-1", PID, PID, 42, "b", Duration.ofMillis(100)));
    assertEquals("idle", worker(w, "p-0-1").state());
    assertTrue(worker(w, "p-0-1").rssBytes() > 0, "read from /proc");
    w.record(new SnakepitEvent.CallStarted(T, "i", "p", "p-0-1", 7, "t", Duration.ofMillis(30)));
    assertEquals("busy", worker(w, "p-0-1").state());
    // took counts from the submission: 40 ms, of which 30 waiting in the queue.
    w.record(new SnakepitEvent.CallEnded(T, "i", "p", "p-0-1", 7, "t", Outcome.OK, Duration.ofMillis(40)));
    w.record(new SnakepitEvent.CallStarted(T, "i", "p", "p-0-1", 8, "t", Duration.ZERO));
    w.record(new SnakepitEvent.CallEnded(T, "i", "p", "p-0-1", 8, "t", Outcome.ERROR, Duration.ofMillis(10)));
    w.record(new SnakepitEvent.CallStarted(T, "i", "p", "p-0-1", 9, "t", Duration.ZERO));
    w.record(new SnakepitEvent.CallEnded(T, "i", "p", "p-0-1", 9, "t", Outcome.CANCELLED, Duration.ofMillis(10)));
    NodeStatus.WorkerStatus idle = worker(w, "p-0-1");
    assertEquals("idle", idle.state());
    assertEquals(3, idle.calls());
    assertEquals(1, idle.failed(), "an error counts, a cancel does not");
    assertEquals(10, idle.latencyMillis(), 1e-6);
    assertNull(idle.health(), "not evaluated yet");
    w.record(new SnakepitEvent.WorkerRecycled(T, "i", "p", "p-0-1", "calls"));
    assertEquals("retiring", worker(w, "p-0-1").state());
    w.record(new SnakepitEvent.WorkerExited(T, "i", "p", "p-0-1", PID, 42, "stopped", "stopped", false));
    assertEquals(List.of(), w.status().pool("p").workers());
  }

  @Test
  void aSlotsNextWorkerShowsHowTheLastOneEndedAndItsLosses() {
    WorkerWatch w = watch("");
    ready(w, "p-0-1");
    w.record(new SnakepitEvent.WorkerExited(T, "i", "p", "p-0-1", 1234, 42, "killed",
        "killed by signal 9 (SIGKILL)", false));
    w.record(new SnakepitEvent.WorkerReplaced(T, "i", "p", "p-0-1", "p-0-2", "crashed"));
    ready(w, "p-0-2");
    NodeStatus.WorkerStatus next = worker(w, "p-0-2");
    assertEquals(new NodeStatus.LastExit("p-0-1", 1234, "killed", "killed by signal 9 (SIGKILL)", T),
        next.lastExit());
    assertEquals(1, next.restarts());
    w.record(new SnakepitEvent.WorkerRecycled(T, "i", "p", "p-0-2", "calls"));
    w.record(new SnakepitEvent.WorkerReplaced(T, "i", "p", "p-0-2", "p-0-3", "recycled"));
    w.record(new SnakepitEvent.WorkerExited(T, "i", "p", "p-0-2", PID, 42, "stopped", "stopped", false));
    ready(w, "p-0-3");
    assertEquals("stopped", worker(w, "p-0-3").lastExit().reason());
    assertEquals(1, worker(w, "p-0-3").restarts(), "a recycle is no loss");
    now.addAndGet(Duration.ofMinutes(11).toNanos());
    assertEquals(0, worker(w, "p-0-3").restarts(), "losses older than restarts-window are forgotten");
  }

  @Test
  void aSpareThatTakesASlotServesThatSlot() {
    WorkerWatch w = watch("workers = 1, spares = 1");
    ready(w, "p-0-1");
    ready(w, "p-1-1");
    assertEquals(1, worker(w, "p-1-1").slot());
    w.record(new SnakepitEvent.WorkerExited(T, "i", "p", "p-0-1", 1234, 42, "segfault", "killed by signal 11",
        true));
    w.record(new SnakepitEvent.WorkerReplaced(T, "i", "p", "p-0-1", "p-1-1", "crashed"));
    assertEquals(0, worker(w, "p-1-1").slot(), "the spare serves slot 0 now");
    assertEquals("p-0-1", worker(w, "p-1-1").lastExit().worker());
    ready(w, "p-1-2");
    assertEquals(1, worker(w, "p-1-2").slot(), "the new spare");
    assertNull(worker(w, "p-1-2").lastExit());
  }

  @Test
  void aWorkerBelowMinHealthLongEnoughIsRecycledOnceAndOnlyOneAtATime() {
    // The "workers" are this JVM, far above a max-rss of 1 MiB: their memory factor, and so their score, is 0.
    WorkerWatch w = watch("workers = 2, recycle { max-rss = 1MiB, min-health = 0.5, min-health-evaluations = 3,"
        + " min-health-after = 10s }");
    ready(w, "p-0-1");
    ready(w, "p-1-1");
    w.evaluate();
    NodeStatus.WorkerStatus scored = worker(w, "p-0-1");
    assertNotNull(scored.health());
    assertEquals(0.0, scored.health());
    assertEquals(0.0, scored.healthFactors().memory());
    assertTrue(scored.healthWhy().startsWith("memory ") && scored.healthWhy().contains("of recycle.max-rss 1 MiB"),
        scored.healthWhy());
    w.evaluate();
    w.evaluate();
    coordinator.expectNoMessage(Duration.ofMillis(100)); // three evaluations, but younger than min-health-after
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    w.evaluate();
    PoolActor.RecycleWorker asked = coordinator.expectMessageClass(PoolActor.RecycleWorker.class);
    assertTrue(asked.reason().startsWith("health 0.00 below recycle.min-health 0.5 (memory "), asked.reason());
    w.evaluate();
    w.evaluate();
    coordinator.expectNoMessage(Duration.ofMillis(100)); // one at a time
    w.record(new SnakepitEvent.WorkerRecycled(T, "i", "p", asked.workerId(), asked.reason()));
    w.record(new SnakepitEvent.WorkerExited(T, "i", "p", asked.workerId(), PID, 42, "stopped", "stopped", false));
    w.evaluate();
    PoolActor.RecycleWorker second = coordinator.expectMessageClass(PoolActor.RecycleWorker.class);
    assertTrue(!second.workerId().equals(asked.workerId()), "the other worker, once the first is gone");
  }

  @Test
  void withoutMinHealthNoWorkerIsRecycled() {
    WorkerWatch w = watch("recycle.max-rss = 1MiB");
    ready(w, "p-0-1");
    now.addAndGet(Duration.ofMinutes(5).toNanos());
    for (int i = 0; i < 5; i++) {
      w.evaluate();
    }
    assertEquals(0.0, worker(w, "p-0-1").health());
    coordinator.expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void theSlotOfAWorkerIdIsItsMiddleNumber() {
    assertEquals(3, WorkerWatch.slotInId("my-pool-3-12"));
    assertEquals(-1, WorkerWatch.slotInId("nonsense"));
  }
}
