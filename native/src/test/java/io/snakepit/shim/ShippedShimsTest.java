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
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shims the build put into the jar's resources (target/classes), inspected as {@code file} would: both
 * architectures, each a 64-bit ELF executable for its machine with neither a dynamic loader (PT_INTERP) nor dynamic
 * linking (PT_DYNAMIC). ShimBinaryIT runs them.
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
}
