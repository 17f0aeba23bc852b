package io.snakepit.actors.status;

import static io.snakepit.testing.Awaits.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.NodeStatus;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNode;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node's status of real workers: their pids as /proc shows them, states, calls, memory and health, a slot's last
 * exit after its worker was killed, the JSON of /status; and a worker that leaks memory, whose health drops until
 * recycle.min-health recycles it, with no call failing.
 */
class WorkerStatusIT {
  private static final Duration LIMIT = Duration.ofSeconds(20);
  private static final ConcurrentLinkedQueue<SnakepitEvent> EVENTS = new ConcurrentLinkedQueue<>();

  @RegisterExtension
  static final TestNode NODE = TestNode.of("worker-status", """
      snakepit.status.interval = 200ms
      snakepit.pools {
        default = null
        pair { workers = 2, restart-backoff { min = 100ms, max = 200ms } }
        leaky {
          workers = 1
          recycle { min-health = 0.5, min-health-evaluations = 2, min-health-after = 1s }
        }
      }
      """, Duration.ofSeconds(60));
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
    Events.Taps.of(NODE.kit().system()).add(EVENTS::add);
  }

  private static int pid(Pool pool) throws Exception {
    return Integer.parseInt(await(pool.execute("pid", "{}")).json());
  }

  /** The first status of which {@code test} holds, asked every 50 ms; the test fails after {@link #LIMIT}. */
  private static NodeStatus awaitStatus(String what, Predicate<NodeStatus> test) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    NodeStatus s = snakepit.status();
    while (!test.test(s)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + " within " + LIMIT + "; the last status: " + s.toJson());
      }
      Thread.sleep(50);
      s = snakepit.status();
    }
    return s;
  }

  private static NodeStatus.WorkerStatus worker(NodeStatus s, String pool, int pid) {
    return s.pool(pool).workers().stream().filter(w -> w.pid() == pid).findFirst().orElse(null);
  }

  @Test
  void statusShowsRealWorkersAndTheLastExitOfAKilledWorkersSlot() throws Exception {
    Pool pool = snakepit.pool("pair");
    Set<Integer> pids = new HashSet<>();
    for (int i = 0; i < 6; i++) {
      pids.add(pid(pool));
    }
    assertEquals(2, pids.size(), "two workers took turns: " + pids);
    NodeStatus s = awaitStatus("both workers with a health score", st -> st.pool("pair").workers().size() == 2
        && st.pool("pair").workers().stream().allMatch(w -> w.health() != null)
        && st.pool("pair").workers().stream().mapToLong(NodeStatus.WorkerStatus::calls).sum() == 6);
    NodeStatus.PoolStatus pair = s.pool("pair");
    assertEquals(2, pair.size());
    assertEquals(0, pair.queued());
    assertFalse(pair.circuitOpen());
    assertEquals(pids, pair.workers().stream().map(NodeStatus.WorkerStatus::pid).collect(Collectors.toSet()),
        "the status's pids are those the workers report");
    for (NodeStatus.WorkerStatus w : pair.workers()) {
      assertTrue(Files.isDirectory(Path.of("/proc", Integer.toString(w.pid()))), "python " + w.pid());
      assertTrue(Procs.cmdline(w.pid()).contains("snakepit_worker"), Procs.cmdline(w.pid()));
      assertTrue(Files.isDirectory(Path.of("/proc", Integer.toString(w.shimPid()))), "shim " + w.shimPid());
      assertTrue(Procs.cmdline(w.shimPid()).contains("snakepit-shim"), Procs.cmdline(w.shimPid()));
      assertEquals("idle", w.state());
      assertEquals(0, w.failed());
      assertTrue(w.rssBytes() > 5_000_000, "resident memory " + w.rssBytes());
      assertTrue(w.health() > 0.7 && w.health() <= 1.0, "a fresh idle worker's health: " + w.health());
      assertEquals(1.0, w.healthFactors().memory(), "memory factor of " + w);
      assertTrue(w.uptimeSeconds() > 0, "uptime " + w.uptimeSeconds());
      assertNull(w.lastExit(), "no earlier worker in slot " + w.slot());
      assertTrue(w.id().endsWith("-" + w.slot() + "-1"), w.id() + " serves slot " + w.slot());
    }
    assertEquals(Set.of(0, 1), pair.workers().stream().map(NodeStatus.WorkerStatus::slot)
        .collect(Collectors.toSet()));

    // Busy while a call runs.
    CompletionStage<Result> sleeping = pool.execute("sleep_pid", "{\"seconds\": 1.5}");
    awaitStatus("a busy worker", st -> st.pool("pair").workers().stream().anyMatch(w -> w.state().equals("busy")));
    int sleeper = Integer.parseInt(await(sleeping).json());

    // kill -9 of one worker's Python: its slot's next worker shows the exit.
    NodeStatus.WorkerStatus victim = worker(snakepit.status(), "pair", sleeper);
    assertNotNull(victim);
    Procs.kill(victim.pid(), 9);
    NodeStatus after = awaitStatus("slot " + victim.slot() + " served by a new worker", st -> st.pool("pair")
        .workers().stream().anyMatch(w -> w.slot() == victim.slot() && w.pid() > 0 && w.pid() != victim.pid()
            && w.state().equals("idle")));
    NodeStatus.WorkerStatus next = after.pool("pair").workers().stream().filter(w -> w.slot() == victim.slot())
        .findFirst().orElseThrow();
    assertTrue(Files.isDirectory(Path.of("/proc", Integer.toString(next.pid()))), "new python " + next.pid());
    assertNotNull(next.lastExit(), "the slot's last exit");
    assertEquals(victim.id(), next.lastExit().worker());
    assertEquals(victim.pid(), next.lastExit().pid());
    assertEquals("killed", next.lastExit().reason());
    assertTrue(next.lastExit().status().contains("SIGKILL"), next.lastExit().status());
    assertEquals(1, next.restarts(), "the slot lost one worker");
    NodeStatus.WorkerStatus other = after.pool("pair").workers().stream().filter(w -> w.slot() != victim.slot())
        .findFirst().orElseThrow();
    assertNull(other.lastExit(), "the other slot lost none");

    // The JSON of /status: every field of the contract, named as the contract names it.
    NodeStatus scored = awaitStatus("the new worker scored", st -> st.pool("pair").workers().stream()
        .allMatch(w -> w.health() != null));
    JsonNode json = new ObjectMapper().readTree(scored.toJson());
    assertEquals(scored.instance(), json.get("instance").asText());
    assertTrue(json.get("time").asText().endsWith("Z"), json.get("time").asText());
    JsonNode pj = null;
    for (JsonNode p : json.get("pools")) {
      if (p.get("name").asText().equals("pair")) {
        pj = p;
      }
    }
    assertNotNull(pj, json.toString());
    for (String field : List.of("name", "size", "queued", "circuitOpen", "workers")) {
      assertTrue(pj.has(field), field + " in " + pj);
    }
    assertEquals(2, pj.get("size").asInt());
    assertTrue(pj.get("circuitOpen").isBoolean());
    for (JsonNode w : pj.get("workers")) {
      for (String field : List.of("id", "slot", "state", "pid", "shimPid", "calls", "failed", "rssBytes",
          "cpuPercent", "health", "healthFactors", "uptimeSeconds", "lastExit")) {
        assertTrue(w.has(field), field + " in " + w);
      }
      for (String factor : List.of("memory", "cpu", "latency", "restarts", "uptime")) {
        assertTrue(w.get("healthFactors").get(factor).isNumber(), factor + " in " + w);
      }
      assertTrue(w.get("health").isNumber() && w.get("rssBytes").asLong() > 0 && w.get("pid").asInt() > 0,
          w.toString());
      if (w.get("slot").asInt() == victim.slot()) {
        JsonNode exit = w.get("lastExit");
        assertEquals(victim.id(), exit.get("worker").asText());
        assertEquals("killed", exit.get("reason").asText());
        assertTrue(exit.get("status").asText().contains("signal 9"), exit.toString());
        assertTrue(exit.get("time").asText().endsWith("Z"), exit.toString());
      } else {
        assertTrue(w.get("lastExit").isNull(), w.toString());
      }
    }
  }

  @Test
  void aWorkerThatLeaksMemoryLosesHealthAndIsRecycledWithoutAFailedCall() throws Exception {
    Pool pool = snakepit.pool("leaky");
    int first = pid(pool);
    Procs.Proc firstProc = Procs.of(first).orElseThrow();
    NodeStatus fresh = awaitStatus("the worker's first score", st -> {
      NodeStatus.WorkerStatus w = worker(st, "leaky", first);
      return w != null && w.health() != null;
    });
    NodeStatus.WorkerStatus before = worker(fresh, "leaky", first);
    assertTrue(before.health() > 0.7, "a fresh worker's health: " + before);
    String id = before.id();
    Supplier<SnakepitEvent.WorkerRecycled> recycled = () -> EVENTS.stream()
        .filter(e -> e instanceof SnakepitEvent.WorkerRecycled r && r.worker().equals(id))
        .map(SnakepitEvent.WorkerRecycled.class::cast).findFirst().orElse(null);

    // It leaks 40 MiB a call; its health is followed after each call until it is recycled.
    List<Double> seen = new ArrayList<>();
    seen.add(before.health());
    List<CompletionStage<Result>> calls = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (recycled.get() == null && System.nanoTime() < deadline) {
      CompletionStage<Result> grow = pool.execute("grow", "{\"mb\": 40}");
      calls.add(grow);
      await(grow);
      long settle = System.nanoTime() + Duration.ofMillis(800).toNanos();
      while (System.nanoTime() < settle && recycled.get() == null) {
        Thread.sleep(100);
        NodeStatus.WorkerStatus w = worker(snakepit.status(), "leaky", first);
        if (w != null && w.health() != null && w.health() != seen.get(seen.size() - 1)) {
          seen.add(w.health());
        }
      }
    }
    SnakepitEvent.WorkerRecycled event = recycled.get();
    assertNotNull(event, "worker " + id + " was not recycled within 60 s; health seen: " + seen);
    double lowest = seen.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    assertTrue(lowest < 0.5, "its health fell below recycle.min-health 0.5: " + seen);
    assertTrue(event.reason().contains("below recycle.min-health 0.5") && event.reason().contains("memory"),
        event.reason());
    assertTrue(calls.size() >= 2, "it was recycled only once it had leaked: after " + calls.size() + " calls");

    assertEquals(List.of(), Procs.awaitGone(List.of(firstProc), Duration.ofSeconds(10)),
        "the recycled worker's Python is gone");
    int next = pid(pool);
    assertNotEquals(first, next);
    NodeStatus after = awaitStatus("the slot's new worker", st -> worker(st, "leaky", next) != null);
    NodeStatus.WorkerStatus replacement = worker(after, "leaky", next);
    assertEquals(before.slot(), replacement.slot());
    assertEquals(id, replacement.lastExit().worker());
    assertEquals("stopped", replacement.lastExit().reason());
    assertEquals(0, replacement.restarts(), "a recycle is no restart of the slot");
    for (CompletionStage<Result> c : calls) {
      assertTrue(c.toCompletableFuture().isDone() && !c.toCompletableFuture().isCompletedExceptionally(),
          "every call succeeded");
    }
    assertTrue(EVENTS.stream().noneMatch(e -> e instanceof SnakepitEvent.CallEnded c && c.pool().equals("leaky")
        && c.outcome() != SnakepitEvent.Outcome.OK), "no call of the pool failed");

    // The audit log has the recycle, with its reason.
    Path audit = TestNodes.DATA_DIR.resolve("audit").resolve(TestNodes.INSTANCE + ".jsonl");
    long until = System.nanoTime() + LIMIT.toNanos();
    JsonNode line = null;
    while (line == null && System.nanoTime() < until) {
      if (Files.exists(audit)) {
        for (String l : Files.readAllLines(audit)) {
          if (l.contains("\"WorkerRecycled\"") && l.contains("\"" + id + "\"")) {
            line = new ObjectMapper().readTree(l);
          }
        }
      }
      Thread.sleep(100);
    }
    assertNotNull(line, "no WorkerRecycled line for " + id + " in " + audit);
    assertEquals(event.reason(), line.get("reason").asText());
  }
}
