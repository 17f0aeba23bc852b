package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code snakepit load} against a real node and real Python workers, run from the jar as a user would. */
class LoadIT {
  private static Nodes.Node node;

  @BeforeAll
  static void startNode() throws Exception {
    node = Nodes.serve("--workers", "2");
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static Nodes.Run load(Nodes.Node target, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("load", "--target", "127.0.0.1:" + target.port, "--data-dir",
        target.dataDir.toString()));
    cmd.addAll(List.of(args));
    if (!cmd.contains("--warmup")) {
      cmd.addAll(List.of("--warmup", "0")); // the warm-up has its own test; the others need none
    }
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  /** The result of a {@code --json} run; stdout must hold that object and nothing else. */
  private static JsonNode json(Nodes.Run run) throws Exception {
    assertEquals(0, run.exit(), run.err());
    return new ObjectMapper().readTree(run.out());
  }

  private static double ms(JsonNode result, String percentile) {
    return result.get("latency_ms").get(percentile).asDouble();
  }

  @Test
  void closedLoopMakesEveryCallAndReportsOrderedPercentiles() throws Exception {
    JsonNode r = json(load(node, "ping", "--concurrency", "4", "--requests", "200", "--json"));
    assertEquals("ping", r.get("tool").asText());
    assertEquals(4, r.get("concurrency").asInt());
    assertTrue(r.get("rate").isNull(), r.toString());
    assertEquals(200, r.get("requests").asLong(), r.toString());
    assertEquals(200, r.get("ok").asLong(), r.toString());
    assertEquals(0, r.get("errors").size(), r.toString());
    assertTrue(r.get("throughput").asDouble() > 0, r.toString());
    assertEquals(200 / r.get("seconds").asDouble(), r.get("throughput").asDouble(),
        r.get("throughput").asDouble() * 0.02, r.toString());
    double[] ordered = {ms(r, "p50"), ms(r, "p90"), ms(r, "p99"), ms(r, "p99.9"), ms(r, "max")};
    assertTrue(ordered[0] > 0, r.toString());
    for (int i = 1; i < ordered.length; i++) {
      assertTrue(ordered[i - 1] <= ordered[i], "percentiles out of order: " + r.get("latency_ms"));
    }
    assertTrue(ms(r, "mean") > 0 && ms(r, "mean") <= ms(r, "max"), r.toString());
  }

  /** The warm-up's calls are made but left out: the report counts exactly the calls asked for, and says so. */
  @Test
  void theWarmUpIsMadeAndExcludedFromEveryFigure() throws Exception {
    JsonNode r = json(load(node, "ping", "--concurrency", "2", "--requests", "40", "--warmup", "1s", "--json"));
    assertEquals(40, r.get("requests").asLong(), r.toString());
    assertEquals(40, r.get("ok").asLong(), r.toString());
    assertTrue(r.get("warmup").get("requests").asLong() > 0, r.toString());
    assertTrue(r.get("warmup").get("seconds").asDouble() >= 1.0, r.toString());

    Nodes.Run text = load(node, "ping", "--concurrency", "2", "--requests", "40", "--warmup", "500ms");
    assertEquals(0, text.exit(), text.err());
    List<String> lines = text.out().lines().toList();
    assertTrue(lines.get(0).startsWith("ping: 40 calls in "), text.out());
    assertTrue(lines.get(1).matches("warm-up: \\d+ calls in \\d+\\.\\d\\d s before these, excluded from every"
        + " figure"), text.out());
    assertTrue(text.err().contains("load: warming up for 500 ms"), text.err());

    Nodes.Run none = load(node, "ping", "--concurrency", "2", "--requests", "40", "--warmup", "0", "--json");
    JsonNode off = json(none);
    assertTrue(off.get("warmup") == null, "--warmup 0 must run no warm-up: " + off);
    assertTrue(!none.err().contains("warming up"), none.err());
  }

  @Test
  void failedCallsAreCountedUnderTheirPythonType() throws Exception {
    JsonNode r = json(load(node, "fail", "{\"kind\": \"KeyError\"}", "--concurrency", "3", "--requests", "30",
        "--json"));
    assertEquals(30, r.get("requests").asLong(), r.toString());
    assertEquals(0, r.get("ok").asLong(), r.toString());
    assertEquals("{\"KeyError\":30}", r.get("errors").toString());
  }

  @Test
  void anUnknownToolIsCountedUnderItsOwnTypeInTheTextReport() throws Exception {
    Nodes.Run run = load(node, "nope", "--concurrency", "2", "--requests", "10");
    assertEquals(0, run.exit(), run.err());
    List<String> lines = run.out().lines().toList();
    assertTrue(lines.get(0).startsWith("nope: 10 calls in "), run.out());
    assertTrue(lines.containsAll(List.of("ok: 0", "errors: 10", "  snakepit.UnknownTool: 10")), run.out());
    assertTrue(lines.get(lines.size() - 1).matches("latency: p50 \\d+\\.\\d\\d ms, p90 \\d+\\.\\d\\d ms, p99"
        + " \\d+\\.\\d\\d ms, p99\\.9 \\d+\\.\\d\\d ms, max \\d+\\.\\d\\d ms, mean \\d+\\.\\d\\d ms"), run.out());
  }

  /**
   * One worker serves 5 calls of 0.2 s a second; scheduled at 20 a second, the calls fall further and further
   * behind their due times, and the percentiles must show it. A closed loop on the same worker only ever waits for
   * the call in front of it.
   */
  @Test
  void openLoopCountsLatencyFromWhenEachCallFellDue() throws Exception {
    try (Nodes.Node one = Nodes.serve("--workers", "1")) {
      Nodes.Run run = load(one, "sleep", "{\"seconds\": 0.2}", "--rate", "20/s", "--duration", "3s",
          "--concurrency", "2", "--json");
      JsonNode open = json(run);
      assertEquals(20.0, open.get("rate").asDouble(), open.toString());
      long scheduled = open.get("requests").asLong();
      assertTrue(scheduled >= 48 && scheduled <= 72, "expected about 20/s * 3 s = 60 calls: " + open);
      assertEquals(scheduled, open.get("ok").asLong(), open.toString());
      assertTrue(ms(open, "p99") > 1000, "the backlog is missing from the percentiles: " + open);
      assertTrue(open.get("throughput").asDouble() < 8, "one worker cannot serve 8 such calls a second: " + open);
      assertTrue(run.err().lines().anyMatch(l -> l.startsWith("load: ") && l.contains(" due and waiting")),
          "expected progress lines on stderr, got: " + run.err());

      JsonNode closed = json(load(one, "sleep", "{\"seconds\": 0.2}", "--duration", "3s", "--concurrency", "1",
          "--json"));
      assertTrue(closed.get("requests").asLong() >= 5, closed.toString());
      assertTrue(ms(closed, "p50") >= 200 && ms(closed, "p99") < 1000,
          "a closed loop's calls should take about 0.2 s each: " + closed);
    }
  }

  @Test
  void anUnreachableNodeExitsOneNamingTheTargetAndTheFix() throws Exception {
    int port = Nodes.freePort();
    Nodes.Run run = Nodes.snakepit("load", "--target", "127.0.0.1:" + port, "ping", "--concurrency", "1",
        "--requests", "1");
    assertEquals(1, run.exit(), run.err());
    assertEquals("", run.out());
    assertTrue(run.err().startsWith("error: cannot reach a node at 127.0.0.1:" + port), run.err());
    assertTrue(run.err().contains("./snakepit serve") && run.err().contains("--target"), run.err());
  }

  @Test
  void badFlagsExitTwoNamingTheFlag() throws Exception {
    Map<String, List<String>> cases = Map.of(
        "--concurrency must be at least 1", List.of("ping", "--concurrency", "0", "--requests", "1"),
        "(--requests=N | --duration=TIME)", List.of("ping", "--concurrency", "1"),
        "are mutually exclusive", List.of("ping", "--concurrency", "1", "--requests", "1", "--duration", "1s"),
        "the JSON argument is not valid JSON", List.of("sleep", "{seconds: 1}", "--concurrency", "1",
            "--requests", "1"),
        "Invalid value for option '--rate'", List.of("ping", "--concurrency", "1", "--requests", "1", "--rate",
            "0/s"));
    for (Map.Entry<String, List<String>> c : cases.entrySet()) {
      List<String> cmd = new ArrayList<>(List.of("load", "--target", "127.0.0.1:" + Nodes.freePort()));
      cmd.addAll(c.getValue());
      Nodes.Run run = Nodes.snakepit(cmd.toArray(String[]::new));
      assertEquals(2, run.exit(), c.getValue() + ": " + run.err());
      assertTrue(run.err().contains(c.getKey()), c.getValue() + ": " + run.err());
    }
  }
}
