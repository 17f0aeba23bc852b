package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The table {@code snakepit status} prints from the JSON of /status. */
class StatusCommandTest {
  private static final String STATUS = """
      {"instance": "default", "time": "2026-12-03T07:00:00Z",
       "pools": [ {"name": "default", "size": 2, "spares": 0, "queued": 3, "circuitOpen": false, "lowestHealth": 0.31,
          "workers": [ {"id": "default-0-2", "slot": 0, "state": "idle", "pid": 1234, "shimPid": 1233,
                        "calls": 12, "failed": 0, "rssBytes": 31457280, "cpuPercent": 0.4, "health": 0.97,
                        "healthFactors": {"memory": 1.0, "cpu": 1.0, "latency": 0.95, "restarts": 1.0, "uptime": 0.9},
                        "healthWhy": "up 42 s", "uptimeSeconds": 42.1,
                        "lastExit": {"worker": "default-0-1", "reason": "killed",
                                     "status": "killed by signal 9 (SIGKILL)", "time": "2026-12-03T06:59:58Z"} },
                       {"id": "default-1-1", "slot": 1, "state": "busy", "pid": 1240, "shimPid": 1239,
                        "calls": 15, "failed": 1, "rssBytes": 125829120, "cpuPercent": 98.0, "health": 0.31,
                        "healthFactors": {"memory": 0.04, "cpu": 0.25, "latency": 1.0, "restarts": 1.0, "uptime": 1.0},
                        "healthWhy": "memory 3.9x baseline (120 of 30 MiB)", "uptimeSeconds": 312,
                        "lastExit": null } ] },
                 {"name": "batch", "size": 1, "queued": 0, "circuitOpen": true, "workers": [] } ] }
      """;

  @Test
  void eachPoolHasAHeaderAndARowPerWorkerAndAnUnwellWorkerIsExplained() throws Exception {
    List<String> lines = StatusCommand.render(new ObjectMapper().readTree(STATUS));
    assertEquals("node default at 2026-12-03T07:00:00Z", lines.get(0));
    assertEquals("pool default: size 2, 3 queued, circuit closed, lowest health 0.31", lines.get(2));
    assertTrue(lines.get(3).trim().startsWith("WORKER"), lines.get(3));
    String first = lines.get(4);
    assertTrue(first.trim().startsWith("default-0-2 ") && first.contains(" 1234 ") && first.contains(" idle ")
        && first.contains(" 30.0 ") && first.contains(" 0.97 ") && first.contains(" 42s ")
        && first.endsWith("default-0-1 killed 2s ago (killed by signal 9 (SIGKILL))"), first);
    String second = lines.get(5);
    assertTrue(second.contains(" 1240 ") && second.contains(" busy ") && second.contains(" 120.0 ")
        && second.contains(" 98.0 ") && second.contains(" 0.31 ") && second.contains(" 5m12s ")
        && second.endsWith(" -"), second);
    assertEquals("  default-1-1: health 0.31: memory 3.9x baseline (120 of 30 MiB)", lines.get(6));
    assertEquals("pool batch: size 1, 0 queued, circuit OPEN", lines.get(8));
    assertEquals("  no live worker", lines.get(9));
    assertEquals(10, lines.size(), String.join("\n", lines));
  }

  private static final String CLUSTER = """
      {"instance": "node-a", "time": "2026-12-03T07:00:00Z", "pools": [],
       "nodes": [
         {"address": "snakepit@10.0.0.5:25520", "self": true, "reachable": true, "instance": "node-a",
          "time": "2026-12-03T07:00:00Z",
          "pools": [ {"name": "default", "size": 1, "queued": 0, "circuitOpen": false, "workers": [
             {"id": "default-0-1", "slot": 0, "state": "idle", "pid": 2001, "calls": 0, "failed": 0, "rssBytes": 0,
              "cpuPercent": 0, "health": null, "uptimeSeconds": 3, "lastExit": null} ] } ] },
         {"address": "snakepit@10.0.0.6:25520", "self": false, "reachable": true, "instance": "node-b",
          "time": "2026-12-03T07:00:01Z",
          "pools": [ {"name": "default", "size": 1, "queued": 0, "circuitOpen": false, "workers": [
             {"id": "default-0-1", "slot": 0, "state": "busy", "pid": 3001, "calls": 4, "failed": 0, "rssBytes": 0,
              "cpuPercent": 0, "health": null, "uptimeSeconds": 9, "lastExit": null} ] } ] },
         {"address": "snakepit@10.0.0.7:25520", "self": false, "reachable": false,
          "error": "no answer within snakepit.cluster.status-timeout = 3000 ms"} ] }
      """;

  @Test
  void aClusteredNodesStatusHasASectionPerNodeAndALineForOneThatDidNotAnswer() throws Exception {
    List<String> lines = StatusCommand.render(new ObjectMapper().readTree(CLUSTER));
    assertEquals("cluster of 3 nodes, asked from node-a, 1 unreachable", lines.get(0));
    assertEquals("node node-a (snakepit@10.0.0.5:25520), this node, at 2026-12-03T07:00:00Z", lines.get(2));
    assertEquals("pool default: size 1, 0 queued, circuit closed", lines.get(4));
    assertTrue(lines.get(6).contains(" 2001 ") && lines.get(6).contains(" idle "), lines.get(6));
    assertEquals("node node-b (snakepit@10.0.0.6:25520) at 2026-12-03T07:00:01Z", lines.get(8));
    assertTrue(lines.get(12).contains(" 3001 ") && lines.get(12).contains(" busy "), lines.get(12));
    assertEquals("node snakepit@10.0.0.7:25520: unreachable: no answer within snakepit.cluster.status-timeout"
        + " = 3000 ms", lines.get(14));
    assertEquals(15, lines.size(), String.join("\n", lines));
  }

  @Test
  void durationsReadAsAnOperatorWritesThem() {
    assertEquals("0s", StatusCommand.duration(0.2));
    assertEquals("59s", StatusCommand.duration(59));
    assertEquals("1m00s", StatusCommand.duration(60));
    assertEquals("3h04m", StatusCommand.duration(3 * 3600 + 4 * 60 + 5));
    assertEquals("2d03h", StatusCommand.duration(2 * 86400 + 3 * 3600));
  }
}
