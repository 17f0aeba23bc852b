package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.actors.AuditLog;

import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.Commands;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code snakepit reap}: settles what a dead node left, from the command line, as a runbook would. */
class ReapIT {

  private record Run(int exit, String out) {}

  private static Run reap(Path dataDir, String... args) throws Exception {
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "reap", "--data-dir", dataDir.toString());
    cmd.addAll(List.of(args));
    Commands.Result r = Commands.run(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD),
        Duration.ofSeconds(60), "reap");
    return new Run(r.exit(), r.out());
  }

  @Test
  void reapLeavesALiveNodeAloneThenSettlesWhatItsDeathLeft() throws Exception {
    Path dataDir = Files.createTempDirectory("snakepit-reap");
    List<Procs.Proc> orphans;
    Nodes.Node node = Nodes.serveIn(dataDir, "--workers", "1", "--instance", TestNodes.INSTANCE,
        "--adapter", "snakepit_worker.examples.forking:ForkingAdapter");
    try {
      ManagedChannel channel = node.channel();
      try {
        assertTrue(GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
            .execute(ExecuteRequest.newBuilder().setTool("spawn_tree").build()).hasValue());
      } finally {
        channel.shutdownNow();
      }
      Run alive = reap(dataDir);
      assertEquals(3, alive.exit(), alive.out());
      assertTrue(alive.out().contains("a live node holds it (pid " + node.pid() + "); left alone"), alive.out());

      List<Procs.Proc> tree = Nodes.tree(node);
      Procs.kill(node.pid(), 19); // frozen: it cannot react to what follows
      for (Procs.Proc p : tree) {
        if (Procs.cmdline(p.pid()).contains("snakepit-shim")) {
          Procs.kill(p.pid(), 9);
        }
      }
      Procs.kill(node.pid(), 9);
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS));
      Thread.sleep(300);
      orphans = tree.stream().filter(Procs.Proc::alive).toList();
    } finally {
      node.close();
    }
    assertTrue(orphans.size() >= 3, "the tree's orphans should outlive the shim and the JVM: " + orphans);

    Run dry = reap(dataDir, "--dry-run");
    assertEquals(0, dry.exit(), dry.out());
    assertTrue(dry.out().contains("would settle: 1 entries, 1 killed, 0 impostors skipped"), dry.out());
    assertTrue(dry.out().contains("NONCE") && dry.out().contains("would be killed"), dry.out());
    assertFalse(orphans.stream().anyMatch(p -> !p.alive()), "a dry run killed something");

    Run real = reap(dataDir, "--instance", TestNodes.INSTANCE);
    assertEquals(0, real.exit(), real.out());
    assertTrue(real.out().contains("settled: 1 entries, 1 killed, 0 impostors skipped"), real.out());
    assertEquals(List.of(), Procs.awaitGone(orphans, Duration.ofSeconds(10)));
    // The kill is in the instance's audit log, naming every process it signalled.
    List<String> settled = Files.readAllLines(AuditLog.file(dataDir, TestNodes.INSTANCE)).stream()
        .filter(l -> l.contains("\"event\":\"OrphanSettled\"")).toList();
    assertEquals(1, settled.size(), "one OrphanSettled line: " + settled);
    for (Procs.Proc p : orphans) {
      assertTrue(settled.get(0).matches(".*\"processes\":\\[[^\\]]*\\b" + p.pid() + "\\b.*"),
          "pid " + p.pid() + " in " + settled.get(0));
    }
    assertTrue(settled.get(0).contains("\"settlement\":\"killed\""), settled.get(0));

    Run again = reap(dataDir);
    assertTrue(again.out().contains("settled: 0 entries"), again.out());
  }
}
