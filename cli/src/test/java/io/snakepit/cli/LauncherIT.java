package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.testing.Commands;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The {@code ./snakepit} launcher at the repository root: it names what is missing and how to get it. */
class LauncherIT {
  private static final Path LAUNCHER = Path.of(System.getProperty("snakepit.test.root"), "snakepit");

  private record Run(int exit, String output) {}

  private static Run run(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("/bin/bash", LAUNCHER.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Commands.Result r = Commands.run(pb, java.time.Duration.ofSeconds(120), "the launcher");
    return new Run(r.exit(), r.out());
  }

  @Test
  void missingJavaIsNamedWithHowToGetIt() throws Exception {
    Run r = run(Map.of("PATH", "/nonexistent"), "--version");
    assertEquals(1, r.exit(), r.output());
    assertTrue(r.output().contains("Java 17 or newer is needed") && r.output().contains("apt-get install"),
        r.output());
  }

  @Test
  void launcherRunsTheBuiltCommand() throws Exception {
    Run r = run(Map.of(), "--version");
    assertEquals(0, r.exit(), r.output());
    assertTrue(r.output().contains("snakepit 0.1.0"), r.output());
  }
}
