package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import io.snakepit.persistence.Registry;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.WorkerIdentity;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The audit log of real nodes, read after they stopped: a worker killed from outside, one recycled, the last stopped
 * with the node, each with the pids /proc showed while it ran; and an orphan a start settled, with its pid signalled.
 */
class AuditLogIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** A worker's processes as /proc showed them while it ran. */
  private record Running(int pid, int pgid, int shimPid) {}

  private static Running running(Pool pool) throws Exception {
    int pid = Integer.parseInt(pool.execute("pid", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS).json());
    ProcStat stat = ProcStat.read(pid).orElseThrow();
    return new Running(pid, stat.pgrp(), stat.ppid());
  }

  /** The pool's worker once it is another than {@code old}'s (calls that meet the dying one are retried). */
  private static Running next(Pool pool, Running old) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        Running r = running(pool);
        if (r.pid() != old.pid()) {
          return r;
        }
      } catch (ExecutionException e) {
        // the killed worker's call: the next goes to its replacement
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no worker other than pid " + old.pid() + " within " + LIMIT);
  }

  private static List<JsonNode> lines(Path file) throws Exception {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      lines.add(MAPPER.readTree(line));
    }
    return lines;
  }

  private static JsonNode one(List<JsonNode> lines, String event, Predicate<JsonNode> test) {
    List<JsonNode> found = lines.stream().filter(l -> l.get("event").asText().equals(event)).filter(test).toList();
    assertEquals(1, found.size(), "one " + event + " as expected; the log: " + lines);
    return found.get(0);
  }

  private static int mode(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0777;
  }

  @Test
  void aKilledARecycledAndAStoppedWorkerWithThePidsProcShowed() throws Exception {
    String instance = TestNodes.INSTANCE; // its own data directory: a journal and a lock of its own
    Path dataDir = Files.createTempDirectory("snakepit-audit-");
    ActorTestKit kit = ActorTestKit.create("audit", TestNodes.config("snakepit.instance = " + instance + "\n"
        + "snakepit.data-dir = \"" + dataDir + "\"\n" + """
        snakepit.pools.default = null
        snakepit.pools.audited { workers = 1, recycle.max-calls = 2, restart-backoff { min = 50ms, max = 100ms } }
        """));
    Running killed;
    Running recycled;
    Running last;
    try {
      Pool pool = Snakepit.get(kit.system()).pool("audited");
      pool.ready().toCompletableFuture().get(30, TimeUnit.SECONDS);
      killed = running(pool);
      ProcessHandle.of(killed.pid()).orElseThrow().destroyForcibly();
      recycled = next(pool, killed);
      pool.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS); // its second call: recycled
      last = next(pool, recycled);
    } finally {
      kit.shutdownTestKit();
    }

    Path file = AuditLog.file(dataDir, instance);
    assertEquals(0700, mode(file.getParent()));
    assertEquals(0600, mode(file));
    List<JsonNode> lines = lines(file);
    for (JsonNode line : lines) {
      assertEquals(instance, line.get("instance").asText(), line.toString());
      Instant.parse(line.get("time").asText());
      assertFalse(line.get("event").asText().startsWith("Call"), "calls are not written by default: " + line);
    }
    List<String> workers = new ArrayList<>();
    for (Running r : List.of(killed, recycled, last)) {
      JsonNode ready = one(lines, "WorkerReady", l -> l.get("pid").asInt() == r.pid());
      assertEquals(List.of("audited", r.pgid(), r.shimPid()),
          List.of(ready.get("pool").asText(), ready.get("pgid").asInt(), ready.get("shim_pid").asInt()),
          "WorkerReady against /proc " + r + ": " + ready);
      String worker = ready.get("worker").asText();
      workers.add(worker);
      assertEquals(r.shimPid(), one(lines, "WorkerSpawned", l -> l.get("worker").asText().equals(worker))
          .get("shim_pid").asInt());
      one(lines, "WorkerReserved", l -> l.get("worker").asText().equals(worker));
    }
    JsonNode crash = one(lines, "WorkerExited", l -> l.get("worker").asText().equals(workers.get(0)));
    assertEquals(List.of(killed.pid(), killed.shimPid(), "killed"), List.of(crash.get("pid").asInt(),
        crash.get("shim_pid").asInt(), crash.get("reason").asText()), crash.toString());
    assertFalse(crash.get("status").asText().isEmpty(), crash.toString());
    assertEquals("crashed", one(lines, "WorkerReplaced", l -> l.get("worker").asText().equals(workers.get(0)))
        .get("why").asText());
    String why = one(lines, "WorkerRecycled", l -> l.get("worker").asText().equals(workers.get(1)))
        .get("reason").asText();
    assertTrue(why.contains("recycle.max-calls"), "the recycle's reason: " + why);
    assertEquals(List.of(recycled.pid(), "stopped"), exit(lines, workers.get(1)));
    // The last one's exit is written while the node stops: the drain after the pools' stop put it in the file.
    assertEquals(List.of(last.pid(), "stopped"), exit(lines, workers.get(2)));
    one(lines, "PoolReady", l -> l.get("pool").asText().equals("audited"));
  }

  private static List<Object> exit(List<JsonNode> lines, String worker) {
    JsonNode exit = one(lines, "WorkerExited", l -> l.get("worker").asText().equals(worker));
    return List.of(exit.get("pid").asInt(), exit.get("reason").asText());
  }

  @Test
  void aSettlingStartWritesTheOrphanAndThePidItSignalled() throws Exception {
    String instance = "au-" + UUID.randomUUID().toString().substring(0, 8);
    Path dataDir = Files.createTempDirectory("snakepit-audit-");
    String overrides = "snakepit.instance = " + instance + "\nsnakepit.data-dir = \"" + dataDir + "\"\n"
        + "snakepit.audit.calls = on\n";
    String nonce = "o" + UUID.randomUUID().toString().substring(0, 8);
    ProcessBuilder marked = new ProcessBuilder("sleep", "1000");
    marked.environment().put("SNAKEPIT_INSTANCE", instance);
    marked.environment().put("SNAKEPIT_NONCE", nonce);
    Process orphan = marked.start();
    try {
      ActorTestKit journaling = ActorTestKit.create("journaling", TestNodes.config(overrides
          + "snakepit.pools.default = null\n"));
      try {
        Registry r = Registry.open(journaling.system(), journaling.system().settings().config()
            .getConfig("snakepit"));
        long start = ProcStat.read((int) orphan.pid()).orElseThrow().startTime();
        int pid = (int) orphan.pid();
        r.client().reserve(nonce, "default-0-" + nonce, "earlier", BootId.current()).toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        r.client().spawned(nonce, new SpawnedWorker(new WorkerIdentity(pid, pid, start, BootId.current(), pid,
            start), "/nowhere")).toCompletableFuture().get(30, TimeUnit.SECONDS);
      } finally {
        journaling.shutdownTestKit();
      }

      ActorTestKit settling = ActorTestKit.create("settling", TestNodes.config(overrides));
      try {
        Node.get(settling.system()).settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
        Pool pool = Snakepit.get(settling.system()).pool("default");
        pool.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS);
      } finally {
        settling.shutdownTestKit();
      }
      assertTrue(orphan.waitFor(10, TimeUnit.SECONDS), "the settled orphan is still alive");

      List<JsonNode> lines = lines(AuditLog.file(dataDir, instance));
      JsonNode settled = one(lines, "OrphanSettled", l -> l.get("pid").asInt() == orphan.pid());
      assertEquals(List.of("default-0-" + nonce, "killed", "[" + orphan.pid() + "]"),
          List.of(settled.get("worker").asText(), settled.get("settlement").asText(),
              settled.get("processes").toString()), settled.toString());
      // snakepit.audit.calls = on: the call is there, started and ended.
      one(lines, "CallStarted", l -> l.get("tool").asText().equals("ping"));
      assertEquals("ok", one(lines, "CallEnded", l -> l.get("tool").asText().equals("ping"))
          .get("outcome").asText());
    } finally {
      orphan.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
