package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A planned restart that adopts (docs/ADOPTION.md): {@code snakepit detach}, then the next {@code serve} with the same
 * data directory and instance attaches to the waiting workers, checks them, and routes calls to the same Python
 * processes; their trees are then this node's, to stop or to lose with it. What is alive is read from /proc, by pid
 * and start time (an adopted tree is not the new JVM's descendant).
 */
class AdoptionIT {
  private static final String COUNTER = "snakepit_worker.examples.counter:CounterAdapter";

  private static Nodes.Run detach(Path data) throws Exception {
    return Nodes.snakepit("detach", "--data-dir", data.toString(), "--instance", TestNodes.INSTANCE);
  }

  /** The Python workers of a tree (the processes running snakepit_worker). */
  private static Set<Integer> pythons(List<Procs.Proc> tree) {
    return tree.stream().filter(p -> Procs.cmdline(p.pid()).contains("--adapter")
            && !Procs.cmdline(p.pid()).contains("--grace-ms")) // the Pythons, not their shims
        .map(Procs.Proc::pid).collect(Collectors.toSet());
  }

  private static int callPid(Nodes.Node node) throws Exception {
    Nodes.Run run = ServeCallIT.call(node, "pid");
    assertEquals(0, run.exit(), run.err());
    return Integer.parseInt(run.out().trim());
  }

  /** Detaches {@code node} and waits for its exit; its trees must be alive after it. */
  private static void detachAndExit(Nodes.Node node, List<Procs.Proc> tree) throws Exception {
    Nodes.Run run = detach(node.dataDir);
    assertEquals(0, run.exit(), run.out() + "\n" + run.err());
    assertTrue(node.process.waitFor(30, TimeUnit.SECONDS), "the node exited");
    assertEquals(0, node.process.exitValue(), String.join("\n", node.stderr()));
    assertEquals(List.of(), tree.stream().filter(p -> !p.alive()).toList(), "waiting for the next node");
  }

  @Test
  void theNextNodeAdoptsTheWaitingWorkersAndTheSamePythonsServeItsCalls() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    try (Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adapter", COUNTER, "--adopt-window", "120s")) {
      List<Procs.Proc> tree = Nodes.tree(node);
      Set<Integer> pythons = pythons(tree);
      assertEquals(2, pythons.size(), "two workers: " + tree);
      detachAndExit(node, tree);

      try (Nodes.Node next = Nodes.serveIn(data, "--workers", "2", "--adapter", COUNTER)) {
        assertTrue(next.readyLine.contains(", adopted 2, "), next.readyLine);
        assertTrue(next.settledLine.startsWith("settled: 0 entries, 0 killed"), next.settledLine);
        assertEquals(List.of(), tree.stream().filter(p -> !p.alive()).toList(), "adopted, not restarted");
        assertEquals(List.of(), Nodes.tree(next), "the next node spawned no worker of its own");
        for (int i = 0; i < 6; i++) {
          int pid = callPid(next);
          assertTrue(pythons.contains(pid), "served by " + pid + ", not one of the adopted " + pythons);
        }

        next.process.destroy(); // SIGTERM: adopted trees are this node's to stop
        assertTrue(next.process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
        assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "stopped with the node that adopted");
        try (Nodes.Node third = Nodes.serveIn(data, "--workers", "1")) {
          assertTrue(third.settledLine.startsWith("settled: 0 entries, 0 killed"),
              "every adopted worker's exit was journaled: " + third.settledLine);
          assertTrue(!third.readyLine.contains("adopted"), "nothing waited: " + third.readyLine);
        }
      }
    }
  }

  @Test
  void workersInTheirNamespacesWithACgroupAreAdoptedAndTheirCgroupsRemovedWhenTheyStop() throws Exception {
    Requires.isolationMode("namespaces");
    Path data = Files.createTempDirectory("snakepit-adopt");
    String[] isolated = {"--workers", "2", "--adapter", COUNTER, "--isolation", "namespaces", "--memory-limit",
        "512MiB"};
    try (Nodes.Node node = Nodes.serveIn(data, concat(isolated, "--adopt-window", "120s"))) {
      List<Procs.Proc> tree = Nodes.tree(node);
      Set<Integer> pythons = pythons(tree);
      assertEquals(2, pythons.size(), "two workers: " + tree);
      List<Path> cgroups = pythons.stream().map(AdoptionIT::ownCgroup).toList();
      detachAndExit(node, tree);
      try (Nodes.Node next = Nodes.serveIn(data, isolated)) {
        assertTrue(next.readyLine.contains(", isolation namespaces, adopted 2, "), next.readyLine);
        assertEquals(List.of(), Nodes.tree(next), "the next node spawned no worker of its own");
        for (int i = 0; i < 4; i++) { // a pid inside the namespace says nothing: the adopted trees are the only ones
          assertEquals(0, ServeCallIT.call(next, "incr").exit());
        }
        assertEquals(List.of(), tree.stream().filter(p -> !p.alive()).toList(), "adopted, not restarted");
        assertTrue(cgroups.stream().allMatch(Files::isDirectory), "the adopted workers keep their cgroups: " + cgroups);
        next.process.destroy();
        assertTrue(next.process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
        assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "stopped with the node that adopted");
        assertEquals(List.of(), cgroups.stream().filter(Files::exists).toList(),
            "the adopting node removed the cgroups the earlier one made");
      }
    }
  }

  /** The cgroup2 directory of {@code pid}, as /proc/PID/cgroup names it. */
  private static Path ownCgroup(int pid) {
    try {
      String line = Files.readAllLines(Path.of("/proc", Integer.toString(pid), "cgroup")).stream()
          .filter(l -> l.startsWith("0::")).findFirst().orElseThrow();
      return Path.of(io.snakepit.shim.Cgroups.Layout.detect().unified().orElseThrow() + line.substring(3));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String[] concat(String[] first, String... more) {
    String[] all = java.util.Arrays.copyOf(first, first.length + more.length);
    System.arraycopy(more, 0, all, first.length, more.length);
    return all;
  }

  @Test
  void anAdoptedWorkerKeepsItsStateInMemoryWithoutASnapshot() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    List<String> noSnapshots = List.of("-Dsnakepit.pool-defaults.snapshot.on-stop=off");
    try (Nodes.Node node = Nodes.serveIn(data, noSnapshots, "--workers", "1", "--adapter", COUNTER,
        "--adopt-window", "120s")) {
      for (int i = 0; i < 3; i++) {
        assertEquals(0, ServeCallIT.call(node, "incr").exit());
      }
      List<Procs.Proc> tree = Nodes.tree(node);
      detachAndExit(node, tree);
      try (Nodes.Node next = Nodes.serveIn(data, noSnapshots, "--workers", "1", "--adapter", COUNTER)) {
        assertTrue(next.readyLine.contains(", adopted 1, "), next.readyLine);
        Nodes.Run run = ServeCallIT.call(next, "incr");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().contains("\"count\": 4"), "the same process, its count kept: " + run.out());
      }
    }
  }

  @Test
  void aNodeThatAdoptedCanBeRestartedTheSameWay() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    String[] counter = {"--workers", "1", "--adapter", COUNTER, "--adopt-window", "120s"};
    Nodes.Node node = Nodes.serveIn(data, counter);
    List<Nodes.Node> nodes = new java.util.ArrayList<>(List.of(node));
    try {
      List<Procs.Proc> tree = Nodes.tree(node);
      for (int restart = 1; restart <= 2; restart++) {
        Nodes.Node current = nodes.get(nodes.size() - 1);
        Nodes.Run run = ServeCallIT.call(current, "incr");
        assertTrue(run.out().contains("\"count\": " + restart + ","), run.out());
        detachAndExit(current, tree);
        Nodes.Node next = Nodes.serveIn(data, counter);
        nodes.add(next);
        assertTrue(next.readyLine.contains(", adopted 1, "), "restart " + restart + ": " + next.readyLine);
      }
      Nodes.Run run = ServeCallIT.call(nodes.get(2), "incr");
      assertTrue(run.out().contains("\"count\": 3,"), "the same process through two restarts: " + run.out());
      nodes.get(2).process.destroy();
      assertTrue(nodes.get(2).process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "stopped with the last node");
    } finally {
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  @Test
  void aWorkerNotAdoptedRestoresTheSnapshotTakenAtTheDetach() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    try (Nodes.Node node = Nodes.serveIn(data, "--workers", "1", "--adapter", COUNTER, "--adopt-window", "120s")) {
      for (int i = 0; i < 3; i++) {
        assertEquals(0, ServeCallIT.call(node, "incr").exit());
      }
      int before = callPid(node);
      List<Procs.Proc> tree = Nodes.tree(node);
      detachAndExit(node, tree);
      // Another python-path: the next node would start the worker differently, so it settles it and starts anew.
      try (Nodes.Node next = Nodes.serveIn(data, "--workers", "1", "--adapter", COUNTER, "--python-path",
          Files.createTempDirectory("snakepit-adopt-path").toString())) {
        assertTrue(next.readyLine.contains(", adopted 0, "), next.readyLine);
        Nodes.Run run = ServeCallIT.call(next, "incr");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().contains("\"count\": 4"), "the snapshot taken at the detach was restored: " + run.out());
        assertTrue(!run.out().contains("\"pid\": " + before + "}"), "a fresh process: " + run.out());
      }
    }
  }

  @Test
  void killingTheNodeThatAdoptedTakesTheAdoptedTreesDownAtOnce() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    try (Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "120s")) {
      List<Procs.Proc> tree = Nodes.tree(node);
      detachAndExit(node, tree);
      try (Nodes.Node next = Nodes.serveIn(data, "--workers", "2")) {
        assertTrue(next.readyLine.contains(", adopted 2, "), next.readyLine);
        long killed = System.nanoTime();
        Procs.kill(next.pid(), 9);
        assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(5)),
            "the connection to each shim is its lifeline: kill -9 of the adopting JVM ends every tree");
        assertTrue(System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(5));
      }
    }
  }

  @Test
  void aWorkerTheNextNodeWouldStartDifferentlyIsSettledNotAdopted() throws Exception {
    Path data = Files.createTempDirectory("snakepit-adopt");
    try (Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "120s")) {
      List<Procs.Proc> tree = Nodes.tree(node);
      detachAndExit(node, tree);
      // Another adapter: a changed deploy.
      try (Nodes.Node next = Nodes.serveIn(data, "--workers", "2", "--adapter", COUNTER)) {
        assertTrue(next.readyLine.contains(", adopted 0, "), next.readyLine);
        assertTrue(next.settledLine.contains(" 2 killed"), next.settledLine);
        assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(15)), "settled, well before the window");
        assertTrue(String.join("\n", next.stderr()).contains("this node would start it differently"),
            "the log says why they were not adopted");
        Set<Integer> fresh = pythons(Nodes.tree(next));
        assertEquals(2, fresh.size(), "the next node started its own workers");
        assertTrue(fresh.contains(callPid(next)));
      }
    }
  }
}
