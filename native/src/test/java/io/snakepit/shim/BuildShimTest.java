package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shim's build script, as Maven runs it, on a machine that lacks parts of what it uses. */
class BuildShimTest {

  @Test
  void buildWithoutACCompilerFailsWithAMessageThatSaysSo(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("out");
    Exec build = build("src/main/c", out, Map.of("CC", "no-such-compiler-cc"));
    assertEquals(1, build.exitValue(), build.all());
    assertTrue(build.err().contains("no C compiler found") && build.err().contains("apt-get install gcc"),
        build.all());
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void buildFromADirectoryWithoutCSourcesFailsWithAMessageThatSaysSo(@TempDir Path dir) throws Exception {
    Path empty = Files.createDirectory(dir.resolve("src"));
    Path out = dir.resolve("out");
    // "true" is a compiler that is found, so the script goes on to look for the sources.
    Exec build = build(empty.toString(), out, Map.of("CC", "true"));
    assertEquals(66, build.exitValue(), build.all());
    assertTrue(build.err().contains("no C source in '" + empty + "'"), build.all());
    assertFalse(Files.exists(out), "no binary may be left behind");
  }

  @Test
  void withoutTheCrossCompilerTheBuildSucceedsAndNamesThePackageToInstall(@TempDir Path out) throws Exception {
    Arches foreign = Arches.foreign();
    Path stale = out.resolve(ShimBinary.resourceName(foreign.arch()));
    Files.writeString(stale, "from an earlier build");
    Exec build = build("src/main/c", out, Map.of(foreign.crossCompilerVariable(), "no-such-cross-compiler"));
    assertEquals(0, build.exitValue(), build.all());
    assertTrue(build.err().contains("warning: no " + foreign.arch().replace("_", "") + " shim in this build: its"
        + " cross compiler 'no-such-cross-compiler' is not on PATH"), build.all());
    assertTrue(build.err().contains("Install it: 'apt-get install " + foreign.packages() + "' (Debian/Ubuntu), or"
        + " set " + foreign.crossCompilerVariable() + "."), build.all());
    assertFalse(Files.exists(stale), "a shim from an earlier build must not stay when this one could not make it");
    ElfImage host = ElfImage.read(Files.readAllBytes(out.resolve(ShimBinary.resourceName())));
    assertTrue(host.isStatic(), "this machine's shim is still static");
    assertEquals(List.of("shim-src", ShimBinary.resourceName()), names(out));
  }

  @Test
  void withoutTheStaticCLibraryThisMachinesShimIsLinkedDynamicallyWithAWarning(@TempDir Path dir) throws Exception {
    // A compiler that fails to link statically as gcc does without libc.a, and otherwise is cc.
    Path cc = dir.resolve("cc-without-libc.a");
    Files.writeString(cc, "#!/bin/sh\n"
        + "for a in \"$@\"; do\n"
        + "  if [ \"$a\" = -static ]; then echo '/usr/bin/ld: cannot find -lc: No such file or directory' >&2; exit 1; fi\n"
        + "done\n"
        + "exec " + System.getenv().getOrDefault("CC", "cc") + " \"$@\"\n");
    Files.setPosixFilePermissions(cc, PosixFilePermissions.fromString("rwx------"));
    Path out = dir.resolve("out");
    Exec build = build("src/main/c", out, Map.of("CC", cc.toString(),
        Arches.foreign().crossCompilerVariable(), "no-such-cross-compiler"));
    assertEquals(0, build.exitValue(), build.all());
    assertTrue(build.err().contains("warning: the " + System.getProperty("os.arch").replace("amd64", "x86_64")
        + " shim could not be linked statically (/usr/bin/ld: cannot find -lc: No such file or directory); it was"
        + " linked dynamically instead"), build.all());
    assertTrue(build.err().contains("'apt-get install libc6-dev' (Debian/Ubuntu) or 'dnf install glibc-static'"),
        build.all());
    ElfImage host = ElfImage.read(Files.readAllBytes(out.resolve(ShimBinary.resourceName())));
    assertTrue(host.interpreter(), "a dynamically linked shim names its loader");
    assertEquals(Arches.host().machine(), host.machine());
  }

  @Test
  void theJarCarriesAShimForThisMachine() {
    assertTrue(ShimBinary.class.getResource(ShimBinary.resourceName()) != null,
        "no " + ShimBinary.resourceName() + " next to ShimBinary");
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Runs build-shim.sh SRCDIR OUTDIR with env added to the environment. */
  private static Exec build(String srcDir, Path out, Map<String, String> env) throws Exception {
    return Exec.run(List.of("bash", "build-shim.sh", srcDir, out.toString()), new HashMap<>(env));
  }
}
