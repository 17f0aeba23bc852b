package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a command for a test, with a limit and its stdout and stderr kept apart. Its stdin is a pipe left open until
 * it ended (the shim takes EOF there as the JVM's end).
 */
record Exec(int exitValue, String out, String err) {

  /** Runs command with env added to the environment; fails the test if it does not end within 120 s. */
  static Exec run(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    // Output to files, read once the process ended: reading a pipe to its end has no limit.
    Path out = Files.createTempFile("exec", ".out");
    Path err = Files.createTempFile("exec", ".err");
    try {
      Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      boolean ended = p.waitFor(120, TimeUnit.SECONDS);
      if (!ended) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      p.getOutputStream().close();
      assertTrue(ended, command + " did not end within 120 s: " + Files.readString(out) + Files.readString(err));
      return new Exec(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.delete(out);
      Files.delete(err);
    }
  }

  static Exec run(String... command) throws IOException, InterruptedException {
    return run(List.of(command), Map.of());
  }

  /** Whether a program of this name is on PATH. */
  static boolean onPath(String program) {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  String all() {
    return "exit " + exitValue + "\nstdout:\n" + out + "stderr:\n" + err;
  }
}
