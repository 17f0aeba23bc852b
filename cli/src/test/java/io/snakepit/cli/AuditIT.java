package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.Procs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** {@code snakepit audit} reads the log a {@code serve} node wrote, whole, from a time on, for one worker, raw. */
class AuditIT {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  void auditPrintsWhatTheServeNodeDidAndFiltersIt() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-audit-cli");
    Set<Integer> tree;
    try (Nodes.Node node = Nodes.serveIn(dataDir, "--workers", "2")) {
      tree = Procs.descendants(node.pid()).stream().map(Procs.Proc::pid).collect(Collectors.toSet());
    }

    Nodes.Run json = Nodes.snakepit("audit", "--data-dir", dataDir.toString(), "--json");
    assertEquals(0, json.exit(), json.err());
    List<JsonNode> events = new ArrayList<>();
    for (String line : json.out().split("\n")) {
      events.add(MAPPER.readTree(line));
    }
    List<JsonNode> ready = events.stream().filter(e -> e.get("event").asText().equals("WorkerReady")).toList();
    assertEquals(2, ready.size(), json.out());
    for (JsonNode r : ready) {
      assertTrue(tree.contains(r.get("pid").asInt()) && tree.contains(r.get("shim_pid").asInt()),
          "WorkerReady names processes the node's tree did not have (" + tree + "): " + r);
    }
    assertEquals(2, events.stream().filter(e -> e.get("event").asText().equals("WorkerExited")
        && e.get("reason").asText().equals("stopped")).count(), json.out());

    Nodes.Run all = Nodes.snakepit("audit", "--data-dir", dataDir.toString());
    assertEquals(0, all.exit(), all.err());
    List<String> lines = all.out().lines().toList();
    assertEquals(events.size(), lines.size(), all.out());
    JsonNode first = ready.get(0);
    String worker = first.get("worker").asText();
    assertTrue(lines.stream().anyMatch(l -> l.contains(" WorkerReady ") && l.contains("default/" + worker)
        && l.contains(" pid=" + first.get("pid").asInt()) && l.contains(" shim_pid=" + first.get("shim_pid").asInt())),
        all.out());

    Nodes.Run one = Nodes.snakepit("audit", "--data-dir", dataDir.toString(), "--worker", worker, "--json");
    assertEquals(0, one.exit(), one.err());
    List<String> kinds = new ArrayList<>();
    for (String line : one.out().split("\n")) {
      JsonNode e = MAPPER.readTree(line);
      assertEquals(worker, e.get("worker").asText(), line);
      kinds.add(e.get("event").asText());
    }
    assertEquals(List.of("WorkerReserved", "WorkerSpawned", "WorkerReady", "WorkerExited"), kinds, one.out());

    Nodes.Run recent = Nodes.snakepit("audit", "--data-dir", dataDir.toString(), "--since", "1h");
    assertEquals(lines, recent.out().lines().toList());
    Nodes.Run later = Nodes.snakepit("audit", "--data-dir", dataDir.toString(), "--since", "2099-01-01T00:00:00Z");
    assertEquals(List.of(0, ""), List.of(later.exit(), later.out()), later.err());
  }

  @Test
  void badInputIsNamedWithItsFix() throws Exception {
    Path empty = Files.createTempDirectory("snakepit-audit-none");
    Nodes.Run since = Nodes.snakepit("audit", "--data-dir", empty.toString(), "--since", "yesterday");
    assertEquals(2, since.exit(), since.err());
    assertTrue(since.err().contains("--since 'yesterday'") && since.err().contains("10m"), since.err());
    Nodes.Run flag = Nodes.snakepit("audit", "--data-dir", empty.toString(), "--pool", "x");
    assertEquals(2, flag.exit(), flag.err());
    assertTrue(flag.err().contains("--pool"), flag.err());
    Nodes.Run escape = Nodes.snakepit("audit", "--data-dir", empty.toString(), "--instance", "../x");
    assertEquals(2, escape.exit(), escape.err());
    assertTrue(escape.err().contains("'../x'"), escape.err());
    Nodes.Run none = Nodes.snakepit("audit", "--data-dir", empty.toString());
    assertEquals(1, none.exit(), none.err());
    assertTrue(none.err().contains("no audit log") && none.err().contains(empty.resolve("audit").toString())
        && none.err().contains("--data-dir"), none.err());
    assertFalse(Files.exists(empty.resolve("audit")), "reading made the audit directory");
  }
}
