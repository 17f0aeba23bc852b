package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** serve --token-file: nodes that share one gateway token, and the token files a node refuses to start with. */
class SharedTokenIT {
  /** 64 characters, as {@code openssl rand -hex 32} writes them. */
  private static final String TOKEN = "3f1c9a7e5b2d4086c1e9f7a3b5d2c4e6a8b0d2f4e6c8a0b2d4f6e8c0a2b4d6f8";

  private static Path tokenFile(String mode, String text) throws Exception {
    Path file = Files.createTempDirectory("snakepit-secret").resolve("gateway.token");
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }

  private static Nodes.Run call(Nodes.Node node, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("call", "--target", "127.0.0.1:" + node.port));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  @Test
  void twoNodesGivenOneTokenFileBothAdmitCallsWithIt() throws Exception {
    Path file = tokenFile("r--------", TOKEN + "\n");
    try (Nodes.Node a = Nodes.serve("--workers", "1", "--token-file", file.toString());
        Nodes.Node b = Nodes.serve("--workers", "1", "--token-file", file.toString())) {
      for (Nodes.Node node : List.of(a, b)) {
        // The ready line keeps its shape and names the file given.
        assertTrue(node.readyLine.endsWith(", token in " + file), node.readyLine);
        assertEquals(file, node.tokenFile());
        assertFalse(Files.exists(GatewayToken.file(node.dataDir, TestNodes.INSTANCE)),
            "a node given a token file writes none in its data directory");
        assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, "--token-file", file.toString(), "ping"));
        Nodes.Run wrong = call(node, "--token-file", tokenFile("rw-------", TOKEN.replace('3', '4')).toString(),
            "ping");
        assertEquals(1, wrong.exit(), wrong.err());
        assertTrue(wrong.err().contains("not this node's. The node takes its token from " + file), wrong.err());
      }
      a.close();
      assertFalse(a.process.isAlive());
      assertEquals(TOKEN + "\n", Files.readString(file), "the node leaves the file given to it as it was");
      assertEquals("r--------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(b, "--token-file", file.toString(), "ping"));
    }
  }

  @Test
  void theSettingGivesTheTokenFileTooRelativeToTheConfigFile() throws Exception {
    Path file = tokenFile("rw-------", TOKEN);
    Path config = file.resolveSibling("node.conf");
    Files.writeString(config, "snakepit.gateway.token-file = \"gateway.token\"\n");
    try (Nodes.Node node = Nodes.serve("--workers", "1", "--config", config.toString())) {
      assertEquals(file, node.tokenFile());
      assertEquals(new Nodes.Run(0, "\"pong\"", ""), call(node, "--token-file", file.toString(), "ping"));
    }
  }

  @Test
  void aBadTokenFileStopsTheNodeAtStartWithNoWorker() throws Exception {
    Path readable = tokenFile("rw-r--r--", TOKEN);
    Path missing = readable.resolveSibling("no-such.token");
    Path shortOne = tokenFile("rw-------", "0123456789abcdef\n");
    Path empty = tokenFile("rw-------", "\n");
    Path link = Files.createTempDirectory("snakepit-secret").resolve("link.token");
    Files.createSymbolicLink(link, tokenFile("r--------", TOKEN));
    List<List<String>> cases = List.of(
        List.of(readable.toString(), "has mode 0644: group or others may read or write the token",
            "chmod 0400 " + readable),
        List.of(missing.toString(), ": no such file", "openssl rand -hex 32"),
        List.of(shortOne.toString(), "holds a token of 16 characters, fewer than the 32", "openssl rand -hex 32"),
        List.of(empty.toString(), " is empty", "openssl rand -hex 32"),
        List.of(link.toString(), "is a symbolic link", "give the path of the file itself"));
    for (List<String> c : cases) {
      String instance = "token-" + UUID.randomUUID().toString().substring(0, 8);
      Path dataDir = Files.createTempDirectory("snakepit-data");
      Nodes.Run run = Nodes.snakepit("serve", "--workers", "1", "--instance", instance, "--data-dir",
          dataDir.toString(), "--listen", "127.0.0.1:" + Nodes.freePort(), "--http", "off",
          "--token-file", c.get(0));
      assertEquals(1, run.exit(), c.get(0) + ": " + run.err());
      assertTrue(run.err().startsWith("snakepit: the node could not start: --token-file " + c.get(0)), run.err());
      assertTrue(run.err().contains(c.get(1)), run.err());
      assertTrue(run.err().contains(c.get(2)), run.err());
      assertFalse(run.out().contains("ready:"), run.out());
      assertEquals(List.of(), Procs.withInstance(instance), "no worker of the node that did not start");
      assertFalse(Files.exists(GatewayToken.file(dataDir, instance)));
    }
    assertFalse(Files.exists(missing), "the node makes no file at the path given");
  }
}
