package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.Procs;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** snakepit call and load --session: every call carries the session, so one worker serves them all. */
class CallSessionIT {
  private static final String COUNTER = "snakepit_worker.examples.counter:CounterAdapter";
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Nodes.Run snakepit(Nodes.Node node, String command, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(command, "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  @Test
  void callsOfOneSessionAllReachOneWorker() throws Exception {
    try (Nodes.Node node = Nodes.serve("--workers", "2", "--adapter", COUNTER)) {
      Set<Integer> workers = new HashSet<>();
      for (Procs.Proc p : Nodes.tree(node)) {
        String cmdline = Procs.cmdline(p.pid());
        if (cmdline.contains("snakepit_worker") && !cmdline.contains("snakepit-shim")) { // the Pythons, not shims
          workers.add(p.pid());
        }
      }
      assertEquals(2, workers.size(), "two workers in /proc: " + workers);
      // Without a session, calls one after another spread over the idle workers.
      Set<String> spread = new HashSet<>();
      for (int i = 0; i < 4; i++) {
        Nodes.Run run = snakepit(node, "call", "pid");
        assertEquals(0, run.exit(), run.err());
        spread.add(run.out());
      }
      assertEquals(2, spread.size(), "calls without a session reach both workers: " + spread);
      Set<String> pids = new HashSet<>();
      for (int i = 0; i < 10; i++) {
        Nodes.Run run = snakepit(node, "call", "--session", "s1", "pid");
        assertEquals(0, run.exit(), run.err());
        pids.add(run.out());
      }
      assertEquals(1, pids.size(), "one session, one worker: " + pids);
      int pid = Integer.parseInt(pids.iterator().next());
      assertTrue(workers.contains(pid), "the pid " + pid + " is one of the node's workers in /proc: " + workers);

      // load --session sends all its calls in the session: the counter of that one worker counts them all.
      Nodes.Run load = snakepit(node, "load", "--session", "s1", "--affinity", "strict-queue", "incr",
          "--concurrency", "2", "--requests", "20", "--warmup", "0", "--json");
      assertEquals(0, load.exit(), load.err());
      assertEquals(20, JSON.readTree(load.out()).get("ok").asInt(), load.out());
      Nodes.Run count = snakepit(node, "call", "--session", "s1", "count");
      assertEquals(0, count.exit(), count.err());
      JsonNode counted = JSON.readTree(count.out());
      assertEquals(pid, counted.get("pid").asInt(), count.out());
      assertEquals(20, counted.get("count").asInt(),
          "every call of load --session s1 reached the session's worker: " + count.out());
    }
  }

  @Test
  void aBadAffinityOrOneWithoutASessionIsRefusedWithExitTwo() throws Exception {
    for (String command : List.of("call", "load")) {
      List<String> args = new ArrayList<>(List.of(command, "--target", "127.0.0.1:1", "--session", "s1",
          "--affinity", "sticky", "pid"));
      if (command.equals("load")) {
        args.addAll(List.of("--concurrency", "1", "--requests", "1"));
      }
      Nodes.Run bad = Nodes.snakepit(args.toArray(String[]::new));
      assertEquals(2, bad.exit(), bad.err());
      assertTrue(bad.err().contains("'sticky' is not an affinity: give one of strict-queue, strict-fail-fast, hint"),
          bad.err());
    }
    Nodes.Run alone = Nodes.snakepit("call", "--target", "127.0.0.1:1", "--affinity", "hint", "pid");
    assertEquals(2, alone.exit(), alone.err());
    assertTrue(alone.err().contains("--affinity hint applies to the calls of a session: give --session ID too"),
        alone.err());
  }
}
