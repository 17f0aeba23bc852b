package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shims the build put into the jar's resources (target/classes), inspected as {@code file} would: both
 * architectures, each a 64-bit ELF executable for its machine with neither a dynamic loader (PT_INTERP) nor dynamic
 * linking (PT_DYNAMIC). This machine's runs a program here; the other one runs under qemu-user where that is present.
 */
class ShippedShimsTest {
  private static final Path RESOURCES = Path.of("target/classes/io/snakepit/shim");

  @ParameterizedTest
  @ValueSource(strings = {"x86_64", "aarch_64"})
  void theBuiltResourcesHoldAStaticShimFor(String arch) throws Exception {
    Arches a = Arches.BY_ARCH.get(arch);
    Path file = RESOURCES.resolve(ShimBinary.resourceName(arch));
    if (!arch.equals(ShimBinary.arch()) && !Files.exists(file)) {
      assumeTrue(a.crossCompilerPresent(), a.noCrossCompiler());
    }
    assertTrue(Files.isRegularFile(file), file + " is missing, though " + (arch.equals(ShimBinary.arch())
        ? "it is this machine's architecture" : "the cross compiler '" + a.compiler() + "' is here"));
    URL resource = ShimBinary.class.getResource(ShimBinary.resourceName(arch));
    assertNotNull(resource, "ShimBinary does not see " + file + " as its resource");
    assertEquals(file.toAbsolutePath(), Path.of(resource.toURI()));

    ElfImage elf = ElfImage.read(Files.readAllBytes(file));
    assertEquals(64, elf.bits(), file + ": ELF class");
    assertEquals(a.machine(), elf.machine(), file + ": e_machine");
    assertFalse(elf.interpreter(), file + " has a PT_INTERP segment: it needs a dynamic loader");
    assertFalse(elf.dynamic(), file + " has a PT_DYNAMIC segment: it is dynamically linked");
    assertTrue(elf.isStatic());
    assertEquals(arch, elf.arch());
  }

  @Test
  void theJarCarriesTheShimsSourceWithItsList() throws Exception {
    List<String> listed = Files.readAllLines(RESOURCES.resolve("shim-src/FILES"));
    List<String> sources;
    try (var files = Files.list(Path.of("src/main/c"))) {
      sources = files.map(p -> p.getFileName().toString()).sorted().toList();
    }
    assertEquals(sources, listed.stream().sorted().toList());
    for (String name : sources) {
      assertEquals(Files.readString(Path.of("src/main/c", name)), Files.readString(RESOURCES.resolve("shim-src")
          .resolve(name)), name);
    }
  }

  @Test
  void theElfReaderSeesThatThisJvmsLauncherIsDynamicallyLinked() throws Exception {
    // The JDK's launcher needs ld.so and libc: the reader must see both segments, or its "static" means nothing.
    ElfImage java = ElfImage.read(Files.readAllBytes(Path.of("/proc/self/exe")));
    assertTrue(java.interpreter(), "the JVM's launcher has no PT_INTERP?");
    assertTrue(java.dynamic(), "the JVM's launcher has no PT_DYNAMIC?");
    assertFalse(java.isStatic());
    assertEquals(Arches.host().machine(), java.machine());

    IllegalArgumentException notElf = assertThrows(IllegalArgumentException.class,
        () -> ElfImage.read(Files.readAllBytes(RESOURCES.resolve("shim-src/FILES"))));
    assertTrue(notElf.getMessage().contains("not an ELF file"), notElf.getMessage());
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
  void theOtherArchitecturesShimParsesItsCommandLineUnderQemu() throws Exception {
    Arches foreign = Arches.foreign();
    Path file = RESOURCES.resolve(ShimBinary.resourceName(foreign.arch()));
    if (!Files.exists(file)) {
      assumeTrue(foreign.crossCompilerPresent(), foreign.noCrossCompiler());
    }
    assumeTrue(Exec.onPath(foreign.qemu()), "no '" + foreign.qemu() + "' here to run the " + foreign.arch()
        + " shim: apt-get install qemu-user-static (.ci/run installs it)");
    // Options are parsed before anything that needs the host kernel (qemu-user 7.2 refuses PR_SET_CHILD_SUBREAPER).
    Exec bad = Exec.run(foreign.qemu(), file.toAbsolutePath().toString(), "--grace-ms", "soon", "--", "/bin/true");
    assertEquals(64, bad.exitValue(), bad.all());
    assertTrue(bad.err().startsWith("snakepit-shim: --grace-ms needs milliseconds from 0 to 2147483647, got 'soon'\n"
        + "usage: snakepit-shim [--grace-ms N]"), bad.all());
    assertEquals("", bad.out());

    Exec none = Exec.run(foreign.qemu(), file.toAbsolutePath().toString(), "--rlimit", "nofile=64");
    assertEquals(64, none.exitValue(), none.all());
    assertTrue(none.err().startsWith("snakepit-shim: no PROGRAM given\n"), none.all());
  }
}
