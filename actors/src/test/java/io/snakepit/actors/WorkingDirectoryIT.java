package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.NodeProcess;
import io.snakepit.testing.Procs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node JVM whose working directory holds a {@code grpc.py} and a {@code snakepit_worker/} that fail when imported:
 * its workers run in that directory yet import neither, because the working directory is not on their sys.path
 * ({@code python -m} would put it first there).
 */
class WorkingDirectoryIT {

  @Test
  void modulesInTheJvmsWorkingDirectoryDoNotShadowTheWorkers(@TempDir Path cwd) throws Exception {
    Files.writeString(cwd.resolve("grpc.py"), "raise ImportError('grpc.py of the working directory was imported')\n");
    Files.createDirectories(cwd.resolve("snakepit_worker"));
    Files.writeString(cwd.resolve("snakepit_worker/__init__.py"),
        "raise ImportError('snakepit_worker/ of the working directory was imported')\n");
    String overrides = "snakepit.pools.default.workers = 1\n"
        // A data directory of its own (H2 refuses a second JVM on the shared journal).
        + "snakepit.data-dir = \"" + Files.createTempDirectory("snakepit-cwd-") + "\"\n";
    try (NodeProcess node = NodeProcess.startIn(cwd, Map.of(), List.of(), overrides, "pid", "1")) {
      assertTrue(node.ready(), node.lines + node.stderr());
      int pid = Integer.parseInt(node.linesStartingWith("result ").get(0).trim());
      assertEquals(cwd.toRealPath(), Path.of("/proc/" + pid + "/cwd").toRealPath(),
          "the worker does not run in the JVM's working directory, so this test proves nothing");
      String cmdline = Procs.cmdline(pid);
      assertTrue(cmdline.contains("/bin/snakepit_worker --adapter "), cmdline);
      assertFalse(cmdline.contains(" -m "), cmdline);
    }
  }
}
