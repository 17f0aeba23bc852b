package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeConfigTest {
  @TempDir
  Path dir;

  @AfterEach
  void forgetProperties() {
    System.clearProperty("snakepit.instance");
    System.clearProperty("snakepit.pool-defaults.workers");
    ConfigFactory.invalidateCaches();
  }

  private Path file(String text) throws Exception {
    Path conf = Files.createDirectories(dir.resolve("etc")).resolve("node.conf");
    Files.writeString(conf, text);
    return conf;
  }

  @Test
  void flagsWinOverSystemPropertiesWhichWinOverTheFile() throws Exception {
    System.setProperty("snakepit.instance", "from-property");
    System.setProperty("snakepit.pool-defaults.workers", "5");
    ConfigFactory.invalidateCaches();
    Path conf = file("snakepit { instance = from-file, pool-defaults { workers = 3, spares = 1 } }\n");
    Config c = NodeConfig.load(conf, dir, dir, "from-flag", Map.of(), Map.of());
    assertEquals("from-flag", c.getString("snakepit.instance"));
    assertEquals(5, c.getInt("snakepit.pool-defaults.workers"));
    assertEquals(1, c.getInt("snakepit.pool-defaults.spares"));
  }

  @Test
  void theDefaultPythonLosesToTheFileAndTheFileToTheFlag() throws Exception {
    Map<String, Object> defaults = Map.of("snakepit.pool-defaults.python", "/venv/bin/python",
        "snakepit.pools.default.adapter", NodeConfig.EXAMPLE_ADAPTER);
    assertEquals("/venv/bin/python", NodeConfig.load(null, dir, dir, null, Map.of(), defaults)
        .getString("snakepit.pool-defaults.python"));
    Path conf = file("snakepit.pool-defaults.python = /opt/py/bin/python3\n");
    assertEquals("/opt/py/bin/python3", NodeConfig.load(conf, dir, dir, null, Map.of(), defaults)
        .getString("snakepit.pool-defaults.python"));
    Config flagged = NodeConfig.load(conf, dir, dir, null, Map.of("snakepit.pools.default.python", "/usr/bin/python3"),
        defaults);
    assertEquals("/usr/bin/python3", flagged.getString("snakepit.pools.default.python"));
    assertEquals(NodeConfig.EXAMPLE_ADAPTER, flagged.getString("snakepit.pools.default.adapter"));
  }

  @Test
  void theFilesRelativeDataDirIsRelativeToItsDirectoryAndTheJournalFollows() throws Exception {
    Path conf = file("snakepit.data-dir = state\n");
    Config c = NodeConfig.load(conf, null, Path.of("data"), "n1", Map.of(), Map.of());
    assertEquals(dir.resolve("etc/state").toString(), c.getString("snakepit.data-dir"));
    assertTrue(c.getString("snakepit.registry.db.url").startsWith("jdbc:h2:async:" + dir.resolve("etc/state")
        + "/registry-n1;"), c.getString("snakepit.registry.db.url"));
  }

  @Test
  void theDataDirFlagWinsAndWithoutEitherItIsDataInTheWorkingDirectory() throws Exception {
    Path conf = file("snakepit.data-dir = state\n");
    assertEquals(dir.resolve("flag").toString(), NodeConfig.load(conf, dir.resolve("flag"), Path.of("data"), null,
        Map.of(), Map.of()).getString("snakepit.data-dir"));
    assertEquals(Path.of("data").toAbsolutePath().toString(), NodeConfig.load(null, null, Path.of("data"), null,
        Map.of(), Map.of()).getString("snakepit.data-dir"));
  }

  @Test
  void aMissingFileIsNamedWithTheFix() {
    NodeConfig.BadFile e = assertThrows(NodeConfig.BadFile.class,
        () -> NodeConfig.load(dir.resolve("none.conf"), dir, dir, null, Map.of(), Map.of()));
    assertEquals("--config " + dir.resolve("none.conf") + ": no such file (in " + Path.of("").toAbsolutePath()
        + "). Give the path of a HOCON file, e.g. --config /etc/snakepit/node.conf", e.getMessage());
  }

  @Test
  void aMalformedFileIsNamedWithTheLineAndTheFix() throws Exception {
    Path conf = file("snakepit {\n  pool-defaults.workers = 2\n  pools.default { workers = }\n}\n");
    NodeConfig.BadFile e = assertThrows(NodeConfig.BadFile.class,
        () -> NodeConfig.load(conf, dir, dir, null, Map.of(), Map.of()));
    assertTrue(e.getMessage().startsWith("--config " + conf + ": cannot read it: " + conf + ": 3: ")
        && e.getMessage().endsWith(". Fix the file (HOCON, as in reference.conf), or give another with --config FILE"),
        e.getMessage());
  }

  @Test
  void aFilesRelativePythonPathResolvesAgainstItsDirectory() throws Exception {
    Path conf = file("snakepit.pools.default { adapter = \"a:B\", python-path = [adapters, \"/abs\"] }\n");
    Config c = NodeConfig.load(conf, dir, dir, null, Map.of(), Map.of());
    var pool = io.snakepit.actors.pool.PoolSettings.fromConfig("default", c.getConfig("snakepit"));
    assertEquals(List.of(dir.resolve("etc/adapters").toString(), "/abs"), pool.worker().pythonPath());
  }
}
