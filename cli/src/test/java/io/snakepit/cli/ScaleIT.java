package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Procs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code snakepit scale POOL N} against {@code snakepit serve}: through the gateway, with its token, both ways. */
class ScaleIT {

  private static Nodes.Run scale(Nodes.Node node, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("scale", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  private static List<Procs.Proc> pythons(Nodes.Node node) {
    return Nodes.tree(node).stream().filter(p -> Procs.cmdline(p.pid()).contains("/bin/snakepit_worker ")
        && !Procs.cmdline(p.pid()).contains("snakepit-shim")).toList();
  }

  @Test
  void scaleGrowsAndShrinksAPoolAndRefusesWhatCannotBe() throws Exception {
    Nodes.Node node = Nodes.serve("--workers", "2");
    try {
      Nodes.Run grown = scale(node, "default", "5");
      assertEquals(new Nodes.Run(0, "scaled: pool default to 5 workers, 5 ready", ""), grown);
      assertEquals(5, pythons(node).size(), "workers after growing");

      List<Procs.Proc> before = pythons(node);
      Nodes.Run shrunk = scale(node, "default", "1");
      assertEquals(new Nodes.Run(0, "scaled: pool default to 1 worker, 1 ready", ""), shrunk);
      List<Procs.Proc> after = pythons(node);
      assertEquals(1, after.size(), "workers after shrinking: " + after);
      assertTrue(before.containsAll(after), "the shrink kept a running worker");
      assertEquals(0, ServeCallIT.call(node, "ping").exit(), "calls go on");

      Nodes.Run unknown = scale(node, "nope", "3");
      assertEquals(1, unknown.exit());
      assertTrue(unknown.err().startsWith("error: NOT_FOUND: ") && unknown.err().contains("nope"), unknown.err());

      Nodes.Run zero = scale(node, "default", "0");
      assertEquals(1, zero.exit());
      assertTrue(zero.err().startsWith("error: INVALID_ARGUMENT: ") && zero.err().contains("at least 1 worker"),
          zero.err());

      List<Procs.Proc> tree = Nodes.tree(node);
      node.process.destroy(); // SIGTERM
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(tree, Duration.ofSeconds(10)), "left behind after SIGTERM");
    } finally {
      node.close();
    }
  }

  @Test
  void scaleWithoutANodeSaysHowToStartOne() throws Exception {
    Nodes.Run s = Nodes.snakepit("scale", "--target", "127.0.0.1:" + Nodes.freePort(), "default", "3");
    assertEquals(2, s.exit());
    assertTrue(s.err().contains("cannot reach a node") && s.err().contains("./snakepit serve"), s.err());
  }
}
