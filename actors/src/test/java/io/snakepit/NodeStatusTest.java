package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The JSON of a status: the contract's names and types, nulls where nothing is known yet. */
class NodeStatusTest {
  private static final Instant T = Instant.parse("2026-12-03T07:00:00Z");

  @Test
  void aScoredWorkerAndAStartingOneAsJson() throws Exception {
    NodeStatus.WorkerStatus scored = new NodeStatus.WorkerStatus("default-0-2", 0, "idle", 1234, 1233, 12, 0,
        31457280, 0.44, 1.25, 0.97123, new NodeStatus.HealthFactors(1, 1, 0.95, 1, 0.9), "latency 1.6x", 1, 42.14,
        new NodeStatus.LastExit("default-0-1", 1201, "killed", "killed by signal 9 (SIGKILL)",
            Instant.parse("2026-12-03T06:59:58Z")));
    NodeStatus.WorkerStatus starting = new NodeStatus.WorkerStatus("default-1-1", 1, "starting", 0, 1239, 0, 0, 0, 0,
        0, null, null, "", 0, 0, null);
    NodeStatus status = new NodeStatus("default", T, List.of(new NodeStatus.PoolStatus("default", 2, 0, 0, false,
        null, List.of(scored, starting))));
    JsonNode json = new ObjectMapper().readTree(status.toJson());
    assertEquals("default", json.get("instance").asText());
    assertEquals("2026-12-03T07:00:00Z", json.get("time").asText());
    JsonNode pool = json.get("pools").get(0);
    assertEquals("default", pool.get("name").asText());
    assertEquals(2, pool.get("size").asInt());
    assertEquals(0, pool.get("queued").asInt());
    assertTrue(pool.get("circuitOpen").isBoolean());
    JsonNode w = pool.get("workers").get(0);
    assertEquals("default-0-2", w.get("id").asText());
    assertEquals(0, w.get("slot").asInt());
    assertEquals("idle", w.get("state").asText());
    assertEquals(1234, w.get("pid").asInt());
    assertEquals(1233, w.get("shimPid").asInt());
    assertEquals(12, w.get("calls").asLong());
    assertEquals(0, w.get("failed").asLong());
    assertEquals(31457280, w.get("rssBytes").asLong());
    assertEquals(0.4, w.get("cpuPercent").asDouble());
    assertEquals(0.971, w.get("health").asDouble());
    assertEquals(0.95, w.get("healthFactors").get("latency").asDouble());
    assertEquals(42.1, w.get("uptimeSeconds").asDouble());
    JsonNode exit = w.get("lastExit");
    assertEquals("default-0-1", exit.get("worker").asText());
    assertEquals("killed", exit.get("reason").asText());
    assertEquals("killed by signal 9 (SIGKILL)", exit.get("status").asText());
    assertEquals("2026-12-03T06:59:58Z", exit.get("time").asText());
    JsonNode s = pool.get("workers").get(1);
    assertTrue(s.get("health").isNull() && s.get("healthFactors").isNull() && s.get("lastExit").isNull(), s.toString());
    assertEquals(0, s.get("pid").asInt());
    assertTrue(pool.get("lowestHealth").isNull());
    assertEquals(status.pool("default"), status.pools().get(0));
  }
}
