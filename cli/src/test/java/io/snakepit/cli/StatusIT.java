package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.Procs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code snakepit status} and {@code GET /status} against a real node of two workers: their real pids, states and
 * health, and after {@code kill -9} of one Python process its slot's new pid and last exit; and the command against
 * no node, and with a wrong token.
 */
class StatusIT {
  private static final Duration LIMIT = Duration.ofSeconds(60);
  private static final Pattern HTTP_LINE = Pattern.compile("http: \\S+.* on (http://127\\.0\\.0\\.1:\\d+).*");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Nodes.Node node;

  @BeforeAll
  static void serve() throws Exception {
    node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"), List.of("-Dsnakepit.status.interval=200ms"),
        "--workers", "2");
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static Nodes.Run status(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("status", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  private static JsonNode statusJson() throws Exception {
    Nodes.Run r = status("--json");
    assertEquals(0, r.exit(), r.err());
    return JSON.readTree(r.out());
  }

  private static JsonNode defaultPool(JsonNode status) {
    for (JsonNode p : status.get("pools")) {
      if (p.get("name").asText().equals("default")) {
        return p;
      }
    }
    throw new AssertionError("no pool default in " + status);
  }

  /** The node's Python workers as /proc shows them: its descendants that run snakepit_worker and are no shim. */
  private static Set<Integer> pythonPids() {
    return Nodes.tree(node).stream().map(Procs.Proc::pid)
        .filter(pid -> Procs.cmdline(pid).contains("snakepit_worker") && !Procs.cmdline(pid).contains("snakepit-shim"))
        .collect(Collectors.toSet());
  }

  private static Set<Integer> pids(JsonNode pool) {
    Set<Integer> pids = new java.util.HashSet<>();
    pool.get("workers").forEach(w -> pids.add(w.get("pid").asInt()));
    return pids;
  }

  @Test
  void statusListsBothWorkersWithTheirRealPidsAndAKilledWorkersSlotShowsItsExit() throws Exception {
    JsonNode pool = defaultPool(statusJson());
    assertEquals(2, pool.get("size").asInt(), pool.toString());
    assertEquals(2, pool.get("workers").size(), pool.toString());
    assertEquals(pythonPids(), pids(pool), "the status's pids are the node's Python processes");
    for (JsonNode w : pool.get("workers")) {
      int pid = w.get("pid").asInt();
      assertTrue(Files.isDirectory(Path.of("/proc/" + pid)), "python " + pid);
      assertTrue(Procs.cmdline(w.get("shimPid").asInt()).contains("snakepit-shim"), w.toString());
      assertEquals("idle", w.get("state").asText(), w.toString());
      assertTrue(w.get("rssBytes").asLong() > 5_000_000, w.toString());
      assertTrue(w.get("lastExit").isNull(), w.toString());
    }

    Nodes.Run table = status();
    assertEquals(0, table.exit(), table.err());
    assertTrue(table.out().contains("pool default: size 2, 0 queued, circuit closed"), table.out());
    for (JsonNode w : pool.get("workers")) {
      String row = table.out().lines().filter(l -> l.trim().startsWith(w.get("id").asText() + " ")).findFirst()
          .orElseThrow(() -> new AssertionError("no row for " + w.get("id") + " in\n" + table.out()));
      assertTrue(row.contains(" " + w.get("pid").asInt() + " ") && row.contains(" idle "), row);
    }

    JsonNode victim = pool.get("workers").get(0);
    int killed = victim.get("pid").asInt();
    Procs.kill(killed, 9);
    long deadline = System.nanoTime() + LIMIT.toNanos();
    JsonNode next = null;
    while (next == null && System.nanoTime() < deadline) {
      for (JsonNode w : defaultPool(statusJson()).get("workers")) {
        if (w.get("slot").asInt() == victim.get("slot").asInt() && w.get("pid").asInt() > 0
            && w.get("pid").asInt() != killed) {
          next = w;
        }
      }
    }
    assertTrue(next != null, "slot " + victim.get("slot") + " got no new worker within " + LIMIT);
    JsonNode fresh = next;
    int replacement = fresh.get("pid").asInt();
    assertNotEquals(killed, replacement);
    assertTrue(Files.isDirectory(Path.of("/proc/" + replacement)), "new python " + replacement);
    assertTrue(pythonPids().contains(replacement), pythonPids() + " holds " + replacement);
    JsonNode exit = next.get("lastExit");
    assertEquals(victim.get("id").asText(), exit.get("worker").asText(), next.toString());
    assertEquals(killed, exit.get("pid").asInt(), next.toString());
    assertEquals("killed", exit.get("reason").asText(), next.toString());
    assertTrue(exit.get("status").asText().contains("SIGKILL"), next.toString());

    Nodes.Run after = status();
    String row = after.out().lines().filter(l -> l.trim().startsWith(fresh.get("id").asText() + " ")).findFirst()
        .orElseThrow(() -> new AssertionError("no row for the new worker in\n" + after.out()));
    assertTrue(row.contains(" " + replacement + " ") && row.contains(victim.get("id").asText() + " killed "), row);
  }

  @Test
  void httpStatusServesTheContractsJson() throws Exception {
    Matcher m = HTTP_LINE.matcher(node.httpLine == null ? "" : node.httpLine);
    assertTrue(m.matches(), "the http line: " + node.httpLine);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    long deadline = System.nanoTime() + LIMIT.toNanos();
    JsonNode body;
    HttpResponse<String> r;
    do {
      r = http.send(HttpRequest.newBuilder(URI.create(m.group(1) + "/status")).timeout(LIMIT).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      body = JSON.readTree(r.body());
      Thread.sleep(100);
    } while (!allScored(defaultPool(body)) && System.nanoTime() < deadline);
    assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
    assertTrue(body.get("instance").isTextual() && body.get("time").asText().endsWith("Z"), body.toString());
    JsonNode pool = defaultPool(body);
    for (String field : List.of("name", "size", "queued", "circuitOpen", "workers")) {
      assertTrue(pool.has(field), field + " in " + pool);
    }
    assertTrue(pool.get("size").isInt() && pool.get("queued").isInt() && pool.get("circuitOpen").isBoolean(),
        pool.toString());
    assertEquals(pythonPids(), pids(pool));
    for (JsonNode w : pool.get("workers")) {
      assertTrue(w.get("id").isTextual() && w.get("slot").isInt() && w.get("state").isTextual()
          && w.get("pid").isInt() && w.get("shimPid").isInt() && w.get("calls").isNumber()
          && w.get("failed").isNumber() && w.get("rssBytes").isNumber() && w.get("cpuPercent").isNumber()
          && w.get("health").isNumber() && w.get("uptimeSeconds").isNumber() && w.has("lastExit"), w.toString());
      double health = w.get("health").asDouble();
      assertTrue(health > 0 && health <= 1, w.toString());
      for (String factor : List.of("memory", "cpu", "latency", "restarts", "uptime")) {
        double f = w.get("healthFactors").get(factor).asDouble();
        assertTrue(f >= 0 && f <= 1, factor + " in " + w);
      }
    }
  }

  private static boolean allScored(JsonNode pool) {
    for (JsonNode w : pool.get("workers")) {
      if (!w.get("health").isNumber() || w.get("pid").asInt() == 0) {
        return false;
      }
    }
    return pool.get("workers").size() == 2;
  }

  @Test
  void statusWithoutANodeAtTheTargetExitsTwoSayingSo() throws Exception {
    int port = Nodes.freePort();
    Nodes.Run r = Nodes.snakepit("status", "--target", "127.0.0.1:" + port, "--data-dir", node.dataDir.toString());
    assertEquals(2, r.exit(), r.err());
    assertEquals("", r.out());
    assertTrue(r.err().startsWith("error: snakepit.Unreachable: cannot reach a node at 127.0.0.1:" + port + " ("),
        r.err());
    assertTrue(r.err().endsWith("Start one with ./snakepit serve, or point --target at one"), r.err());
  }

  @Test
  void statusWithAnotherTokenIsRefusedAsACallIs() throws Exception {
    Path wrong = Files.createTempFile("snakepit-token", ".token");
    Files.writeString(wrong, "not-the-token\n");
    Nodes.Run r = Nodes.snakepit("status", "--target", "127.0.0.1:" + node.port, "--token-file", wrong.toString());
    assertEquals(1, r.exit(), r.err());
    assertTrue(r.err().startsWith("error: snakepit.Unauthenticated: "), r.err());
  }
}
