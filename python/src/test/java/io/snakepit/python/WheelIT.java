package io.snakepit.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wheel this jar carries installs by pip on its own into a fresh virtual environment (grpcio and protobuf come
 * from the configured index), and the installed {@code snakepit-worker} serves, with nothing of the project on its
 * path.
 */
class WheelIT {

  @Test
  void theWheelInstallsWithPipIntoAFreshEnvironmentAndItsWorkerServes(@TempDir Path dir) throws Exception {
    String python = System.getProperty("snakepit.test.python");
    assertTrue(python != null && Files.isExecutable(Path.of(python)),
        "snakepit.test.python is not an executable Python (" + python + "); run the tests through Maven");
    Path wheel = WorkerPackage.writeWheel(dir.resolve("wheels"));
    assertTrue(wheel.getFileName().toString().matches("snakepit_worker-[0-9][0-9.]*-py3-none-any\\.whl"),
        wheel.toString());

    Path venv = dir.resolve("venv");
    run(dir, List.of(python, "-m", "venv", venv.toString()));
    Path venvPython = venv.resolve("bin/python");
    run(dir, List.of(venvPython.toString(), "-m", "pip", "install", "--quiet", wheel.toString()));
    String imported = run(dir, List.of(venvPython.toString(), "-c",
        "import snakepit_worker, snakepit_worker._proto.worker_pb2, snakepit_worker.server;"
            + " print(snakepit_worker.__file__)"));
    assertTrue(imported.strip().startsWith(venv.toRealPath().toString()) || imported.strip().startsWith(
        venv.toString()), "snakepit_worker imported from " + imported + ", not from the environment " + venv);

    Path socket = dir.resolve("w.sock");
    Path stderr = dir.resolve("worker.stderr");
    ProcessBuilder pb = new ProcessBuilder(venv.resolve("bin/snakepit-worker").toString(), "--adapter",
        "snakepit_worker.examples.basic:BasicAdapter", "--socket", socket.toString())
        .directory(dir.toFile()).redirectErrorStream(false).redirectError(stderr.toFile());
    clean(pb.environment());
    Process worker = pb.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(stderr).contains("serving ") && worker.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      String log = Files.readString(stderr);
      assertTrue(log.contains("serving snakepit_worker.examples.basic:BasicAdapter on " + socket), log);
      assertTrue(Files.exists(socket), "no socket at " + socket + "; " + log);
    } finally {
      // SIGTERM alone: Process.destroy() also closes the worker's stdin, whose EOF means "the parent is gone" (70).
      worker.toHandle().destroy();
      if (!worker.waitFor(30, TimeUnit.SECONDS)) {
        worker.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
    assertEquals(0, worker.exitValue(), Files.readString(stderr));
  }

  /** Runs {@code cmd} in {@code dir} to its end (within 5 minutes) and returns its output; fails on a non-zero exit. */
  private static String run(Path dir, List<String> cmd) throws IOException, InterruptedException {
    Path out = Files.createTempFile(dir, "out", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(out.toFile());
    clean(pb.environment());
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError(cmd + " did not end within 5 minutes: " + Files.readString(out));
    }
    String output = Files.readString(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), cmd + " failed: " + output);
    return output;
  }

  /** Nothing of the build's environment: no PYTHONPATH or active venv; no retries of an unreachable index. */
  private static void clean(Map<String, String> env) {
    env.remove("PYTHONPATH");
    env.remove("VIRTUAL_ENV");
    env.remove("PYTHONHOME");
    env.put("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    env.putIfAbsent("PIP_RETRIES", "0");
  }
}
