package io.snakepit.shim;

import java.util.Map;

/** For the tests: each shipped architecture's ELF machine, cross compiler, its Debian packages and its qemu-user. */
record Arches(String arch, int machine, String crossCompilerVariable, String crossCompiler, String packages,
    String qemu) {

  static final Map<String, Arches> BY_ARCH = Map.of(
      "x86_64", new Arches("x86_64", ElfImage.X86_64, "CC_X86_64", "x86_64-linux-gnu-gcc",
          "gcc-x86-64-linux-gnu libc6-dev-amd64-cross", "qemu-x86_64-static"),
      "aarch_64", new Arches("aarch_64", ElfImage.AARCH64, "CC_AARCH64", "aarch64-linux-gnu-gcc",
          "gcc-aarch64-linux-gnu libc6-dev-arm64-cross", "qemu-aarch64-static"));

  /** This machine's. */
  static Arches host() {
    return BY_ARCH.get(ShimBinary.arch());
  }

  /** The other shipped architecture: the one the build cross-compiles. */
  static Arches foreign() {
    return BY_ARCH.get(ShimBinary.arch().equals("x86_64") ? "aarch_64" : "x86_64");
  }

  /** The cross compiler build-shim.sh would use, as its variable or its default says. */
  String compiler() {
    String set = System.getenv(crossCompilerVariable);
    return set != null && !set.isBlank() ? set.trim().split("\\s+")[0] : crossCompiler;
  }

  boolean crossCompilerPresent() {
    return Exec.onPath(compiler()) || java.nio.file.Files.isExecutable(java.nio.file.Path.of(compiler()));
  }

  /** The assumption's message where the cross compiler is absent. */
  String noCrossCompiler() {
    return "no " + arch + " cross compiler '" + compiler() + "' here, so the build shipped no " + arch + " shim:"
        + " apt-get install " + packages + " (.ci/run installs them)";
  }
}
