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
    ProcessBuilder pb = new ProcessBuilder("bash", "build-shim.sh", "src/main/c", out.toString())
        .redirectErrorStream(true);
    pb.environment().put("CC", "no-such-compiler-cc");
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
    assertEquals(1, p.exitValue(), output);
    assertTrue(output.contains("no C compiler found") && output.contains("apt-get install gcc"), output);
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void buildFromADirectoryWithoutCSourcesFailsWithAMessageThatSaysSo() throws Exception {
    Path empty = Files.createTempDirectory("shim-src");
    Path out = Files.createTempDirectory("shim-build").resolve("snakepit-shim");
    ProcessBuilder pb = new ProcessBuilder("bash", "build-shim.sh", empty.toString(), out.toString())
        .redirectErrorStream(true);
    pb.environment().put("CC", "true"); // a compiler that is found, so the script reaches the sources
    Path log = Files.createTempFile("shim-build", ".log");
    Process p = pb.redirectOutput(log.toFile()).start();
    boolean ended = p.waitFor(120, TimeUnit.SECONDS);
    if (!ended) {
      p.destroyForcibly();
    }
    String output = Files.readString(log);
    Files.delete(log);
    Files.delete(empty);
    assertTrue(ended, "build-shim.sh did not end within 120 s: " + output);
    assertEquals(66, p.exitValue(), output);
    assertTrue(output.contains("no C source in '" + empty + "'"), output);
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void theJarCarriesAShimForThisMachine() {
    assertTrue(ShimBinary.class.getResource(ShimBinary.resourceName()) != null,
        "no " + ShimBinary.resourceName() + " next to ShimBinary");
  }
}
