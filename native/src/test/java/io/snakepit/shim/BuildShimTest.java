package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The shim's build script, as Maven runs it. */
class BuildShimTest {

  @Test
  void buildWithoutACCompilerFailsWithAMessageThatSaysSo() throws Exception {
    Path out = Files.createTempDirectory("shim-build").resolve("snakepit-shim");
    ProcessBuilder pb = new ProcessBuilder("bash", "build-shim.sh", "src/main/c/snakepit-shim.c", out.toString())
        .redirectErrorStream(true);
    pb.environment().put("CC", "no-such-compiler-cc");
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(1, p.waitFor(), output);
    assertTrue(output.contains("no C compiler found") && output.contains("apt-get install gcc"), output);
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void theJarCarriesAShimForThisMachine() {
    assertTrue(ShimBinary.class.getResource(ShimBinary.resourceName()) != null,
        "no " + ShimBinary.resourceName() + " next to ShimBinary");
  }
}
