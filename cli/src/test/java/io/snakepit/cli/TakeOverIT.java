package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Procs;
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
 * {@code serve --take-over} (docs/ADOPTION.md): the next node, started while the old one serves, asks it to detach,
 * waits for it to exit and adopts its workers, on the same gateway port; with no node holding the lock it is a plain
 * start that signals nothing.
 * What is alive is read from /proc.
 */
class TakeOverIT {

  /** The Python workers of a tree (the processes running snakepit_worker), not their shims. */
  private static Set<Integer> pythons(List<Procs.Proc> tree) {
    return tree.stream().filter(p -> Procs.cmdline(p.pid()).contains("--adapter")
            && !Procs.cmdline(p.pid()).contains("--grace-ms"))
        .map(Procs.Proc::pid).collect(Collectors.toSet());
  }

  /** Waits until {@code node} printed a line starting with {@code prefix}, at most 30 s. */
  private static String awaitLine(Nodes.Node node, String prefix) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (String line : node.stdout) {
        if (line.startsWith(prefix)) {
          return line;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no line starting '" + prefix + "' within 30 s: " + node.stdout);
  }

  @Test
  void aTakeOverWhileANodeServesDetachesItAndTheSamePythonsServeOnTheSamePort() throws Exception {
    Path data = Files.createTempDirectory("snakepit-take-over");
    Nodes.Node old = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "60s");
    Nodes.Node next = null;
    try {
      List<Procs.Proc> tree = Nodes.tree(old);
      Set<Integer> pythons = pythons(tree);
      assertEquals(2, pythons.size(), "two workers: " + tree);
      next = Nodes.serveOn(data, old.port, "--listen", "127.0.0.1:" + old.port, "--workers", "2", "--take-over");

      assertTrue(old.process.waitFor(30, TimeUnit.SECONDS), "the old node exited");
      assertEquals(0, old.process.exitValue(), String.join("\n", old.stderr()));
      assertTrue(awaitLine(old, "detached: ").startsWith("detached: 2 of 2 workers wait"), "" + old.stdout);
      assertTrue(next.stdout.contains("taking over: node pid " + old.pid() + " detaching"), "" + next.stdout);
      assertTrue(next.stdout.stream().anyMatch(l -> l.matches("taking over: node pid " + old.pid()
          + " exited after \\d+ ms")), "" + next.stdout);
      assertTrue(next.readyLine.contains(", adopted 2, "), next.readyLine);
      assertTrue(next.readyLine.contains("gateway on 127.0.0.1:" + old.port), next.readyLine);
      assertEquals(List.of(), tree.stream().filter(p -> !p.alive()).toList(), "adopted, not restarted");
      assertEquals(List.of(), Nodes.tree(next), "the next node spawned no worker of its own");
      for (int i = 0; i < 4; i++) {
        Nodes.Run run = ServeCallIT.call(next, "pid");
        assertEquals(0, run.exit(), run.err());
        int pid = Integer.parseInt(run.out().trim());
        assertTrue(pythons.contains(pid), "served by " + pid + ", not one of the adopted " + pythons);
      }

      next.process.destroy(); // SIGTERM: the adopted trees are the new node's to stop
      assertTrue(next.process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "no worker tree is left");
    } finally {
      old.close();
      if (next != null) {
        next.close();
      }
    }
  }

  @Test
  void aTakeOverWithNoNodeRunningIsAPlainStart() throws Exception {
    Path data = Files.createTempDirectory("snakepit-take-over");
    // A lock file naming a live process that does not hold the lock (this test's JVM): it is not signalled.
    Files.writeString(data.resolve(TestNodes.INSTANCE + ".lock"), ProcessHandle.current().pid() + "\n");
    try (Nodes.Node node = Nodes.serveIn(data, "--workers", "1", "--take-over")) {
      assertTrue(node.stdout.contains("taking over: no node of instance '" + TestNodes.INSTANCE + "' runs: pid "
          + ProcessHandle.current().pid() + " (named in " + data.resolve(TestNodes.INSTANCE + ".lock")
          .toAbsolutePath().normalize() + ") does not hold that lock; nothing was signalled; a plain start"),
          "" + node.stdout);
      assertFalse(node.stdout.stream().anyMatch(l -> l.contains(" detaching")), "" + node.stdout);
      assertFalse(node.readyLine.contains("adopted"), node.readyLine);
      List<Procs.Proc> tree = Nodes.tree(node);
      assertEquals(1, pythons(tree).size(), "one worker of its own: " + tree);
      node.process.destroy();
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "no worker tree is left");
    }
  }
}
