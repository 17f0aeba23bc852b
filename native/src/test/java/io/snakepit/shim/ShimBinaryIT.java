package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shims of the packaged jar, run: this machine's unpacked and running a program, the other architecture's under
 * qemu-user where that is present, and, for an architecture the jar ships no binary for (riscv64, through
 * ShimBinary's seam), the carried C source compiled with cc into the cache directory and run; without a compiler the
 * error says what to do.
 */
class ShimBinaryIT {
  private static final Path RESOURCES = Path.of("target/classes/io/snakepit/shim");
  /** The compiler the runtime uses by default, as the build does: CC, else cc. */
  private static final List<String> CC = List.of(System.getenv().getOrDefault("CC", "cc").trim().split("\\s+"));

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void noShippedBinaryFitsSoTheCarriedSourceIsCompiledAndRuns(@TempDir Path cache) throws Exception {
    ShimBinary.Shim shim = ShimBinary.obtain(cache, "riscv64", CC);
    assertEquals(ShimBinary.Origin.COMPILED_HERE, shim.origin());
    assertEquals("riscv64", shim.arch());
    ElfImage elf = ElfImage.read(Files.readAllBytes(shim.path()));
    assertEquals(Arches.host().machine(), elf.machine(), "compiled for this machine");
    assertEquals(elf.isStatic(), shim.statically());
    assertTrue(shim.describe().startsWith("compiled here with " + String.join(" ", CC) + " for riscv64, "),
        shim.describe());
    assertTrue(shim.describe().endsWith("no shipped binary fits, shipped: " + String.join(", ",
        ShimBinary.shipped()) + ")"), shim.describe());
    // Checksum-named and owner-only like a shipped one; the build directory is gone.
    assertEquals(List.of(shim.path().getFileName().toString()), names(cache));
    assertTrue(shim.path().getFileName().toString().matches("snakepit-shim-[0-9a-f]{16}"), shim.path().toString());
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(shim.path())));
    assertEquals(shim.path(), ShimBinary.obtain(cache, "riscv64", CC).path(), "a verified copy is used again");

    Exec run = Exec.run(shim.path().toString(), "--", "/bin/true");
    assertEquals(0, run.exitValue(), run.all());
    List<String> lines = run.out().lines().toList();
    assertTrue(lines.get(0).matches("SPAWNED [0-9]+"), run.all());
    assertEquals("EXIT 0 exited 0", lines.get(lines.size() - 1), run.all());

    Exec bad = Exec.run(shim.path().toString(), "--unshare", "user", "--", "/bin/true");
    assertEquals(64, bad.exitValue(), bad.all());
    assertTrue(bad.err().startsWith("snakepit-shim: --unshare needs LIST, a comma-separated subset of"
        + " pid,ipc,mount,net; got 'user'\n"), bad.all());
  }

  @Test
  void withoutACompilerTheErrorNamesTheArchitectureWhatIsShippedAndTheFix(@TempDir Path cache) throws Exception {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> ShimBinary.obtain(cache, "riscv64", List.of("no-such-cc-for-this-test")));
    assertTrue(ShimBinary.shipped().contains(ShimBinary.arch()), ShimBinary.shipped().toString());
    assertTrue(e.getMessage().startsWith("this snakepit-native jar carries no shim for this machine's architecture"
        + " riscv64 (it ships " + String.join(", ", ShimBinary.shipped()) + "), and compiling its C source here with"
        + " 'no-such-cc-for-this-test' failed: it could not be started ("), e.getMessage());
    assertTrue(e.getMessage().contains("Install a C compiler ('apt-get install gcc' on Debian/Ubuntu"),
        e.getMessage());
    assertEquals(List.of(), names(cache), "no build directory may be left behind");
  }

  @Test
  void aCompilerThatFailsIsQuotedInTheError(@TempDir Path cache) throws Exception {
    // cc refusing an option it does not know: a compiler that runs and fails.
    List<String> failing = List.of(CC.get(0), "--no-such-option-for-this-test");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> ShimBinary.obtain(cache, "riscv64", failing));
    assertTrue(e.getMessage().contains("failed: it exited with 1:\n"), e.getMessage());
    assertTrue(e.getMessage().contains("--no-such-option-for-this-test"), e.getMessage());
    assertFalse(e.getMessage().contains(". Install a C compiler"), "the fix starts its own line: " + e.getMessage());
    assertTrue(e.getMessage().contains("\nInstall a C compiler"), e.getMessage());
    assertEquals(List.of(), names(cache), "no build directory may be left behind");
  }

  @Test
  void thePackagedJarCarriesBothShims() throws Exception {
    URL resource = ShimBinary.class.getResource(ShimBinary.resourceName());
    assertEquals("jar", resource.getProtocol(), "failsafe runs against the packaged jar: " + resource);
    Arches foreign = Arches.foreign();
    if (!ShimBinary.shipped().contains(foreign.arch())) {
      assumeTrue(foreign.crossCompilerPresent(), foreign.noCrossCompiler());
    }
    assertEquals(List.of("x86_64", "aarch_64"), ShimBinary.shipped());
  }

  @Test
  void theShippedShimIsUnpackedOwnerOnlyAndRunsAProgram(@TempDir Path cache) throws Exception {
    ShimBinary.Shim shim = ShimBinary.obtain(cache);
    assertEquals(ShimBinary.Origin.SHIPPED, shim.origin());
    assertTrue(shim.statically());
    long size = Files.size(RESOURCES.resolve(ShimBinary.resourceName()));
    assertEquals("shipped static " + ShimBinary.arch() + " binary " + ShimBinary.resourceName() + " (" + size
        + " bytes)", shim.describe());
    assertEquals(cache, shim.path().getParent());
    assertTrue(shim.path().getFileName().toString().matches("snakepit-shim-[0-9a-f]{16}"), shim.path().toString());
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(shim.path())));
    assertEquals(shim.path(), ShimBinary.extract(cache), "a verified copy is used again");

    Exec run = Exec.run(shim.path().toString(), "--", "/bin/true");
    assertEquals(0, run.exitValue(), run.all());
    List<String> lines = run.out().lines().toList();
    assertTrue(lines.get(0).matches("SPAWNED [0-9]+"), run.all());
    assertEquals("EXIT 0 exited 0", lines.get(lines.size() - 1), run.all());
  }

  @Test
  void theOtherArchitecturesShimParsesItsCommandLineUnderQemu(@TempDir Path cache) throws Exception {
    Arches foreign = Arches.foreign();
    if (!ShimBinary.shipped().contains(foreign.arch())) {
      assumeTrue(foreign.crossCompilerPresent(), foreign.noCrossCompiler());
    }
    assumeTrue(Exec.onPath(foreign.qemu()), "no '" + foreign.qemu() + "' here to run the " + foreign.arch()
        + " shim: apt-get install qemu-user-static (.ci/run installs it)");
    // Unpacked from the jar as on a machine of that architecture (the seam names it).
    ShimBinary.Shim shim = ShimBinary.obtain(cache, foreign.arch(), List.of("no-compiler-needed"));
    assertEquals(ShimBinary.Origin.SHIPPED, shim.origin());
    assertTrue(shim.statically());
    String file = shim.path().toString();
    // Options are parsed before anything that needs the host kernel (qemu-user 7.2 refuses PR_SET_CHILD_SUBREAPER).
    Exec bad = Exec.run(foreign.qemu(), file, "--grace-ms", "soon", "--", "/bin/true");
    assertEquals(64, bad.exitValue(), bad.all());
    assertTrue(bad.err().startsWith("snakepit-shim: --grace-ms needs milliseconds from 0 to 2147483647, got 'soon'\n"
        + "usage: snakepit-shim [--grace-ms N]"), bad.all());
    assertEquals("", bad.out());

    Exec none = Exec.run(foreign.qemu(), file, "--rlimit", "nofile=64");
    assertEquals(64, none.exitValue(), none.all());
    assertTrue(none.err().startsWith("snakepit-shim: no PROGRAM given\n"), none.all());
  }
}
