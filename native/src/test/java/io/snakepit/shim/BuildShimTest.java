package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The shim's build script, as Maven runs it. */
class BuildShimTest {

  @Test
  void buildWithoutACCompilerFailsWithAMessageThatSaysSo() throws Exception {
    Path out = Files.createTempDirectory("shim-build").resolve("snakepit-shim");
    Build build = build("src/main/c", out, "no-such-compiler-cc");
    assertEquals(1, build.exitValue(), build.output());
    assertTrue(build.output().contains("no C compiler found") && build.output().contains("apt-get install gcc"),
        build.output());
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void buildFromADirectoryWithoutCSourcesFailsWithAMessageThatSaysSo() throws Exception {
    Path empty = Files.createTempDirectory("shim-src");
    Path out = Files.createTempDirectory("shim-build").resolve("snakepit-shim");
    // "true" is a compiler that is found, so the script goes on to look for the sources.
    Build build = build(empty.toString(), out, "true");
    Files.delete(empty);
    assertEquals(66, build.exitValue(), build.output());
    assertTrue(build.output().contains("no C source in '" + empty + "'"), build.output());
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void theJarCarriesAShimForThisMachine() {
    assertTrue(ShimBinary.class.getResource(ShimBinary.resourceName()) != null,
        "no " + ShimBinary.resourceName() + " next to ShimBinary");
  }

  private record Build(int exitValue, String output) {}

  /** Runs build-shim.sh SRCDIR OUT with CC set to cc, and fails the test if it does not end within 120 s. */
  private static Build build(String srcDir, Path out, String cc) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", "build-shim.sh", srcDir, out.toString())
        .redirectErrorStream(true);
    pb.environment().put("CC", cc);
    Path log = Files.createTempFile("shim-build", ".log");
    // Output to a file, read once the script ended: reading a pipe to its end has no limit.
    Process p = pb.redirectOutput(log.toFile()).start();
    boolean ended = p.waitFor(120, TimeUnit.SECONDS);
    if (!ended) {
      p.destroyForcibly();
    }
    String output = Files.readString(log);
    Files.delete(log);
    assertTrue(ended, "build-shim.sh did not end within 120 s: " + output);
    return new Build(p.exitValue(), output);
  }
}
