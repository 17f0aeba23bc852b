package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.NodeProcess;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code kill -9} of the JVM in each containing isolation mode: every process of the trees, including sleepers that
 * left their session with setsid() and a double fork, is gone; the next start removes the journaled cgroups.
 */
class IsolationJvmKillIT {

  @ParameterizedTest
  @ValueSource(strings = {"cgroup", "namespaces", "runc"})
  void everyProcessDiesWithTheJvmAndTheNextStartRemovesTheCgroups(String mode) throws Exception {
    Requires.isolationMode(mode);
    String overrides = "snakepit.pools.default { workers = 2, adapter = \"snakepit_worker.examples.forking:"
        + "ForkingAdapter\", isolation { mode = " + mode + ", limits.pids = 512 } }";
    List<Procs.Proc> tree;
    List<Path> cgroups;
    try (NodeProcess node = NodeProcess.start(List.of(), overrides, "escape_session", "4")) {
      assertTrue(node.ready(), node.lines + node.stderr());
      tree = Procs.withInstance(TestNodes.INSTANCE);
      List<Procs.Proc> sleepers = tree.stream().filter(p -> Procs.cmdline(p.pid()).startsWith("sleep ")).toList();
      assertEquals(4, sleepers.size(), "escaped sleepers: " + tree);
      cgroups = sleepers.stream().map(IsolationJvmKillIT::pidsCgroup).distinct().toList();
      assertTrue(cgroups.stream().allMatch(Files::isDirectory), "sleepers are not in the workers' cgroups: "
          + cgroups);
      long killed = System.nanoTime();
      Procs.kill(node.pid(), 9);
      node.awaitExit();
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "left after the JVM's kill -9");
      System.out.println("isolation " + mode + ": JVM kill -9 -> " + tree.size() + " processes gone in "
          + (System.nanoTime() - killed) / 1_000_000 + " ms");
    }
    try (NodeProcess next = NodeProcess.start(List.of(), overrides)) {
      assertTrue(next.ready(), next.lines + next.stderr());
      for (Path cgroup : cgroups) {
        assertTrue(!Files.exists(cgroup), "the next start did not remove the journaled cgroup " + cgroup);
      }
    }
  }

  /** The v1 pids cgroup directory of a process (where the pids limit lives, in every mode here). */
  private static Path pidsCgroup(Procs.Proc p) {
    try {
      String line = Files.readAllLines(Path.of("/proc/" + p.pid() + "/cgroup")).stream()
          .filter(l -> l.split(":", 3)[1].equals("pids")).findFirst().orElseThrow();
      return Path.of("/sys/fs/cgroup/pids" + line.split(":", 3)[2]);
    } catch (java.io.IOException e) {
      throw new AssertionError("cannot read the cgroups of " + p, e);
    }
  }
}
