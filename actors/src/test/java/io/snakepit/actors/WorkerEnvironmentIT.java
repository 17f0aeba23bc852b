package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.shim.ProcStat;
import io.snakepit.testing.NodeProcess;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A node JVM with a secret in its environment: its workers (the tool's os.environ and /proc/PID/environ of every
 * process of the tree) see the pool's env {} and the pass-env names, never the secret, in each isolation mode.
 */
class WorkerEnvironmentIT {

  @ParameterizedTest
  @ValueSource(strings = {"process", "namespaces", "runc"})
  void aWorkerCannotSeeAVariableSetOnlyInTheNodesEnvironment(String mode) throws Exception {
    Requires.isolationMode(mode);
    Map<String, String> nodeEnv = Map.of("SNAKEPIT_DB_PASSWORD", "secret", "MY_APP_TOKEN", "passed",
        "CUDA_VISIBLE_DEVICES", "3");
    // The venv's directory as it really is: runc mounts the Python's directories, not a symlink to them.
    String python = Path.of(TestNodes.python()).getParent().toRealPath().resolve("python").toString();
    String overrides = "snakepit.pools.default { workers = 1, python = \"" + python + "\", isolation.mode = " + mode
        + ", pass-env = [\"MY_APP_*\", CUDA_VISIBLE_DEVICES], env { FROM_POOL = \"pool\" } }\n"
        // A data directory of its own: the shared journal may still be closing after an in-process test's stop,
        // and H2 refuses a second JVM while it is open.
        + "snakepit.data-dir = \"" + Files.createTempDirectory("snakepit-env-") + "\"\n";
    try (NodeProcess node = NodeProcess.start(nodeEnv, List.of(), overrides, "environ", "1")) {
      assertTrue(node.ready(), node.lines + node.stderr());
      JsonNode seen = new ObjectMapper().readTree(node.linesStartingWith("result ").get(0));
      assertFalse(seen.has("SNAKEPIT_DB_PASSWORD"), "the tool saw the node's secret: " + seen);
      assertEquals("passed", seen.path("MY_APP_TOKEN").asText(), seen.toString());
      assertEquals("3", seen.path("CUDA_VISIBLE_DEVICES").asText(), seen.toString());
      assertEquals("pool", seen.path("FROM_POOL").asText(), seen.toString());
      assertEquals(System.getenv("PATH"), seen.path("PATH").asText(), "PATH is passed as the node has it");

      List<Procs.Proc> tree = Procs.descendants(node.pid());
      List<Procs.Proc> pythons = tree.stream().map(p -> Map.entry(p, Procs.cmdline(p.pid())))
          .filter(e -> e.getValue().startsWith(python + " ") && e.getValue().contains("/bin/snakepit_worker "))
          .map(Map.Entry::getKey).toList();
      assertEquals(1, pythons.size(), "one worker's Python among " + tree);
      Map<String, String> environ = ProcStat.environ(pythons.get(0).pid()).orElseThrow();
      assertEquals("passed", environ.get("MY_APP_TOKEN"), environ.toString());
      assertEquals("pool", environ.get("FROM_POOL"), environ.toString());
      for (Procs.Proc p : tree) {
        ProcStat.environ(p.pid()).ifPresent(env -> assertFalse(env.containsKey("SNAKEPIT_DB_PASSWORD"),
            "/proc/" + p + "/environ holds the node's secret"));
      }
      assertEquals("secret", ProcStat.environ(node.pid()).orElseThrow().get("SNAKEPIT_DB_PASSWORD"),
          "the node itself has the secret (else this test proves nothing)");
    }
  }
}
