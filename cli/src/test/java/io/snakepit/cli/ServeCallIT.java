package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Commands;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code snakepit serve}, then {@code snakepit call}, then SIGTERM, end to end. */
class ServeCallIT {

  static Nodes.Run call(Nodes.Node node, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("call", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  @Test
  void serveCallAndSigtermLeaveNoProcess() throws Exception {
    Nodes.Node node = Nodes.serve("--workers", "2");
    try {
      assertTrue(node.readyLine.startsWith("ready: 2 workers of snakepit_worker.examples.basic:BasicAdapter"),
          node.readyLine);
      assertTrue(node.settledLine.startsWith("settled: 0 entries, 0 killed, 0 impostors skipped"),
          node.settledLine);
      List<Procs.Proc> tree = Nodes.tree(node);
      assertTrue(tree.size() >= 4, "expected 2 shims and 2 workers, found " + tree);

      Nodes.Run ok = call(node, "echo", "{\"greeting\": \"hello\"}");
      assertEquals(new Nodes.Run(0, "{\"greeting\": \"hello\"}", ""), ok);

      Nodes.Run stream = call(node, "--stream", "stream", "{\"count\": 2}");
      assertEquals("{\"i\": 0}\n{\"i\": 1}", stream.out());

      Nodes.Run unknown = call(node, "nope");
      assertEquals(1, unknown.exit());
      assertTrue(unknown.err().startsWith("error: snakepit.UnknownTool: unknown tool 'nope'"), unknown.err());

      Nodes.Run raised = call(node, "fail", "{\"message\": \"no good\"}");
      assertEquals(1, raised.exit());
      assertTrue(raised.err().startsWith("error: ValueError: no good"), raised.err());
      assertTrue(raised.err().contains("Traceback"), raised.err());

      node.process.destroy(); // SIGTERM
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "left behind after SIGTERM");
      List<String> log = node.stderr();
      assertTrue(log.stream().anyMatch(l -> l.contains("snakepit_worker: stopped; exiting 0")), log::toString);
      assertTrue(log.stream().anyMatch(l -> l.contains("pool 'default' stopped")), log::toString);
    } finally {
      node.close();
    }
  }

  @Test
  void callWithoutANodeSaysHowToStartOne() throws Exception {
    Nodes.Run c = Nodes.snakepit("call", "--target", "127.0.0.1:" + Nodes.freePort(), "ping");
    assertEquals(2, c.exit());
    assertTrue(c.err().contains("cannot reach a node") && c.err().contains("./snakepit serve"), c.err());
  }

  @Test
  void serveIsolationPutsTheWorkersInTheirOwnNamespacesWithTheLimitsAndSaysSo() throws Exception {
    Requires.isolationMode("namespaces");
    Nodes.Node node = Nodes.serve("--workers", "1", "--isolation", "namespaces", "--network", "none",
        "--pids-limit", "128", "--memory-limit", "512MiB");
    try {
      assertTrue(node.readyLine.contains(", isolation namespaces, token in "), node.readyLine);
      Procs.Proc python = Nodes.tree(node).stream().filter(p -> Procs.cmdline(p.pid()).contains("/bin/snakepit_worker ")
          && !Procs.cmdline(p.pid()).contains("snakepit-shim")).findFirst().orElseThrow();
      for (String ns : List.of("pid", "net")) {
        assertFalse(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/" + ns)).equals(
            java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + python.pid() + "/ns/" + ns))),
            ns + " namespace is the host's");
      }
      String cgroups = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + python.pid() + "/cgroup"));
      String pids = cgroups.lines().filter(l -> l.split(":", 3)[1].equals("pids")).findFirst().orElseThrow();
      assertEquals("128", java.nio.file.Files.readString(java.nio.file.Path.of("/sys/fs/cgroup/pids"
          + pids.split(":", 3)[2], "pids.max")).trim());
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, "ping"));
    } finally {
      node.close();
    }
  }

  @Test
  void serveRefusesAnUnknownIsolationModeNamingTheKnownOnes() throws Exception {
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--isolation", "docker", "--listen",
        "127.0.0.1:" + Nodes.freePort());
    Commands.Result r = Commands.run(new ProcessBuilder(cmd).redirectErrorStream(true), Duration.ofSeconds(60),
        "serve --isolation docker");
    String out = r.out();
    assertEquals(2, r.exit(), out);
    assertTrue(out.contains("--isolation: isolation mode 'docker' is unknown: use one of process, cgroup,"
        + " namespaces, runc, systemd"), out);
  }

  @Test
  void serveWithABrokenAdapterFailsWithTheTracebackAndLeavesNothing() throws Exception {
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--listen",
        "127.0.0.1:" + Nodes.freePort(), "--adapter", "snakepit_worker.examples.broken:BrokenAdapter",
        "--data-dir", java.nio.file.Files.createTempDirectory("snakepit-data").toString());
    Commands.Result r = Commands.run(new ProcessBuilder(cmd).redirectErrorStream(true), Duration.ofSeconds(60),
        "serve with a broken adapter");
    String out = r.out();
    assertEquals(1, r.exit(), out);
    assertFalse(out.contains("ready:"), out);
    assertTrue(out.contains("the node could not start") && out.contains("ModuleNotFoundError"), out);
  }

  @Test
  void aNodeWhoseStartFailsExitsNonZeroWithinABoundAndLeavesNoProcess() throws Exception {
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "serve", "--listen",
        "127.0.0.1:" + Nodes.freePort(), "--python", "/nonexistent/python3", "--workers", "2",
        "--data-dir", java.nio.file.Files.createTempDirectory("snakepit-data").toString());
    long started = System.nanoTime();
    Commands.Result r = Commands.run(new ProcessBuilder(cmd).redirectErrorStream(true), Duration.ofSeconds(60),
        "serve --python /nonexistent/python3");
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    String out = r.out();
    assertEquals(1, r.exit(), out);
    assertFalse(out.contains("ready:"), out);
    assertTrue(out.contains("the node could not start") && out.contains("/nonexistent/python3"), out);
    assertEquals(List.of(), Procs.awaitGone(Procs.withInstance(TestNodes.INSTANCE), Duration.ofSeconds(5)),
        "processes of the failed node are alive");
    System.out.println("serve with a missing Python: exit " + r.exit() + " after " + millis + " ms");
  }
}
