package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code snakepit serve --config FILE}: the file's pools and relative paths, and flags over it. */
class ServeConfigIT {
  private static final String ADAPTER = """
      from snakepit_worker import Adapter, tool


      class Greeter(Adapter):
          @tool
          def greet(self, name):
              return {"greeting": f"hello, {name}"}
      """;

  /** A directory holding node.conf and, next to it, adapters/greeter.py, which the file names relatively. */
  private static Path configDir(String conf) throws Exception {
    Path dir = Files.createTempDirectory("snakepit-conf");
    Files.createDirectories(dir.resolve("adapters"));
    Files.writeString(dir.resolve("adapters/greeter.py"), ADAPTER);
    Files.writeString(dir.resolve("node.conf"), conf);
    return dir;
  }

  private static Nodes.Run call(Nodes.Node node, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("call", "--target", "127.0.0.1:" + node.port, "--data-dir",
        node.dataDir.toString()));
    cmd.addAll(List.of(args));
    return Nodes.snakepit(cmd.toArray(String[]::new));
  }

  @Test
  void aConfigFilesPoolAndRelativePythonPathWorkFromAnotherDirectory() throws Exception {
    Path dir = configDir("""
        snakepit.pools.default {
          workers = 1
          adapter = "greeter:Greeter"
          python-path = ["adapters"]
        }
        """);
    Path elsewhere = Files.createTempDirectory("snakepit-cwd");
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serveFrom(elsewhere, Files.createTempDirectory("snakepit-data"), List.of(), port,
        "--listen", "127.0.0.1:" + port, "--config", dir.resolve("node.conf").toString())) {
      assertTrue(node.readyLine.startsWith("ready: 1 workers of greeter:Greeter, "), node.readyLine);
      assertEquals(new Nodes.Run(0, "{\"greeting\": \"hello, file\"}", ""),
          call(node, "greet", "{\"name\": \"file\"}"));
      List<String> log = node.stderr();
      assertTrue(log.stream().anyMatch(l -> l.contains("relative paths resolved against the directory of the"
          + " configuration file that set each: snakepit.pools.default.python-path[0] = adapters -> "
          + dir.resolve("adapters"))), log::toString);
    }
  }

  @Test
  void flagsWinOverTheFile() throws Exception {
    Path dir = configDir("snakepit.pools.default { workers = 1, adapter = \"greeter:Greeter\","
        + " python-path = [adapters] }\n");
    Path data = Files.createTempDirectory("snakepit-data");
    int port = Nodes.freePort();
    try (Nodes.Node node = Nodes.serveFrom(null, data, List.of(), port, "--listen", "127.0.0.1:" + port,
        "--config", dir.resolve("node.conf").toString(), "--workers", "2", "--adapter",
        TestNodes.EXAMPLE_ADAPTER)) {
      assertTrue(node.readyLine.startsWith("ready: 2 workers of " + TestNodes.EXAMPLE_ADAPTER + ", "),
          node.readyLine);
      assertEquals(0, call(node, "echo", "{}").exit());
    }
  }

  @Test
  void aMalformedFileStartsNothingAndExits1NamingTheLine() throws Exception {
    Path dir = configDir("snakepit {\n  pools.default {\n    workers = 1\n");
    Nodes.Run r = Nodes.snakepit("serve", "--listen", "127.0.0.1:" + Nodes.freePort(), "--data-dir",
        Files.createTempDirectory("snakepit-data").toString(), "--config", dir.resolve("node.conf").toString());
    assertEquals(1, r.exit(), r.toString());
    assertTrue(r.err().startsWith("snakepit: --config " + dir.resolve("node.conf") + ": cannot read it: "
        + dir.resolve("node.conf") + ": 4: "), r.err());
    assertTrue(r.err().endsWith("Fix the file (HOCON, as in reference.conf), or give another with --config FILE"),
        r.err());
    assertEquals("", r.out());
  }
}
