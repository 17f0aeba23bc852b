package io.snakepit.shim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The shim executable: the one this jar carries for this machine's architecture (statically linked, built for x86_64
 * and aarch64), else one compiled here with {@code cc} from the C source the jar also carries. Either is written once
 * into a cache directory under a name that carries its checksum, so that different versions never overwrite each
 * other and a tampered copy is never run.
 */
public final class ShimBinary {
  /** The architectures a build with its cross compiler ships a binary for, as the resource names spell them. */
  static final List<String> BUILT_ARCHES = List.of("x86_64", "aarch_64");

  private static final String SOURCE_DIR = "shim-src/";
  private static final long COMPILE_LIMIT_SECONDS = 120;
  /** Compiled once per JVM and compiler: the output of a compiler is not byte-for-byte repeatable everywhere. */
  private static final Map<List<String>, byte[]> COMPILED = new ConcurrentHashMap<>();

  private ShimBinary() {}

  /** How the shim in use was obtained. */
  public enum Origin {
    /** Carried in this jar, built for this architecture. */
    SHIPPED,
    /** Compiled on this machine with its C compiler, from the source carried in this jar. */
    COMPILED_HERE
  }

  /**
   * The shim in use.
   *
   * @param path the executable, in the cache directory
   * @param arch the architecture, as the resource names spell it ({@code x86_64}, {@code aarch_64}, else os.arch)
   * @param origin shipped in the jar or compiled here
   * @param statically whether it needs no dynamic loader or shared C library
   * @param compiler the compiler command for {@link Origin#COMPILED_HERE}, else empty
   * @param size the executable's size in bytes
   */
  public record Shim(Path path, String arch, Origin origin, boolean statically, List<String> compiler, long size) {
    /**
     * One line: which binary and how it was obtained, e.g. "shipped static x86_64 binary snakepit-shim-linux-x86_64
     * (1441288 bytes)".
     */
    public String describe() {
      String linking = statically ? "static" : "dynamically linked";
      return switch (origin) {
        case SHIPPED -> "shipped " + linking + " " + arch + " binary " + resourceName(arch) + " (" + size
            + " bytes)";
        case COMPILED_HERE -> "compiled here with " + String.join(" ", compiler) + " for " + arch + ", " + linking
            + " (" + size + " bytes; no shipped binary fits, shipped: " + String.join(", ", shipped()) + ")";
      };
    }
  }

  /** This JVM's architecture as the resource names spell it (os-maven-plugin's names). */
  static String arch() {
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    return switch (arch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch_64";
      default -> arch;
    };
  }

  /** The resource name of the shim built for this machine's architecture. */
  static String resourceName() {
    return resourceName(arch());
  }

  static String resourceName(String arch) {
    return "snakepit-shim-linux-" + arch;
  }

  /** The architectures this jar carries a binary for. */
  static List<String> shipped() {
    return BUILT_ARCHES.stream().filter(a -> ShimBinary.class.getResource(resourceName(a)) != null).toList();
  }

  /**
   * Returns the path of the shim in {@code cacheDir}, unpacking (or compiling) it first if no verified copy is there.
   *
   * @throws IllegalStateException if this jar carries no shim for this platform and none can be compiled here
   */
  public static Path extract(Path cacheDir) {
    return obtain(cacheDir).path();
  }

  /**
   * Returns the shim in {@code cacheDir} and how it was obtained, unpacking (or compiling) it first if no verified
   * copy is there.
   *
   * @throws IllegalStateException if this jar carries no shim for this platform and none can be compiled here
   */
  public static Shim obtain(Path cacheDir) {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      throw new IllegalStateException("snakepit-shim runs on Linux only; this JVM reports os.name="
          + System.getProperty("os.name"));
    }
    String cc = System.getenv("CC");
    return obtain(cacheDir, arch(), List.of((cc == null || cc.isBlank() ? "cc" : cc).trim().split("\\s+")));
  }

  /**
   * Obtains the shim as {@link #obtain(Path)} does, into a temporary directory removed afterwards: what a node here
   * would use, for {@code snakepit doctor}.
   *
   * @throws IllegalStateException if this jar carries no shim for this platform and none can be compiled here
   */
  public static Shim probe() {
    Path dir;
    try {
      dir = Files.createTempDirectory("snakepit-shim-probe-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make a temporary directory for the shim probe: " + e.getMessage()
          + ". Set java.io.tmpdir to a writable directory.", e);
    }
    try {
      return obtain(dir);
    } finally {
      deleteTree(dir);
    }
  }

  /** The seam: the shipped binary for {@code arch} if there is one, else one compiled with {@code compiler}. */
  static Shim obtain(Path cacheDir, String arch, List<String> compiler) {
    byte[] shipped = readResource(resourceName(arch));
    Origin origin = shipped != null ? Origin.SHIPPED : Origin.COMPILED_HERE;
    byte[] bytes = shipped != null ? shipped : COMPILED.computeIfAbsent(compiler, c -> compile(cacheDir, arch, c));
    Path path = install(cacheDir, bytes);
    return new Shim(path, arch, origin, ElfImage.read(bytes).isStatic(),
        origin == Origin.COMPILED_HERE ? List.copyOf(compiler) : List.of(), bytes.length);
  }

  /** Writes bytes to cacheDir/snakepit-shim-CHECKSUM (owner-only, moved into place whole) unless they are there. */
  private static Path install(Path cacheDir, byte[] bytes) {
    String digest = sha256(bytes).substring(0, 16);
    Path target = cacheDir.resolve("snakepit-shim-" + digest);
    try {
      Files.createDirectories(cacheDir);
      if (Files.isRegularFile(target) && Arrays.equals(Files.readAllBytes(target), bytes)) {
        return target;
      }
      Path temp = Files.createTempFile(cacheDir, ".shim-", ".tmp");
      Files.write(temp, bytes);
      Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx------"));
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot unpack snakepit-shim into " + cacheDir
          + ": " + e.getMessage() + ". Set snakepit.cache-dir to a writable directory.", e);
    }
  }

  /**
   * Compiles the carried C source in an owner-only directory under cacheDir and returns the executable's bytes.
   *
   * @throws IllegalStateException naming the architecture, what is shipped and the fix, if that fails
   */
  private static byte[] compile(Path cacheDir, String arch, List<String> compiler) {
    String cannot = "this snakepit-native jar carries no shim for this machine's architecture " + arch
        + " (it ships " + (shipped().isEmpty() ? "none" : String.join(", ", shipped())) + "), and compiling its C"
        + " source here with '" + String.join(" ", compiler) + "' failed: ";
    String fix = ". Install a C compiler ('apt-get install gcc' on Debian/Ubuntu, 'dnf install gcc' on Fedora, 'apk"
        + " add gcc musl-dev' on Alpine) or set CC to one; or run on x86_64 or aarch64 Linux.";
    Path dir = null;
    try {
      Files.createDirectories(cacheDir);
      dir = Files.createTempDirectory(cacheDir, ".shim-build-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      List<String> command = new ArrayList<>(compiler);
      command.addAll(List.of("-std=c11", "-D_GNU_SOURCE", "-O2", "-o", dir.resolve("shim").toString()));
      for (String name : sourceNames()) {
        byte[] source = readResource(SOURCE_DIR + name);
        if (source == null) {
          throw new IllegalStateException(cannot + "the jar lists " + name + " in " + SOURCE_DIR + "FILES but does"
              + " not carry it. Rebuild snakepit-native: mvn -DskipTests install");
        }
        Files.write(dir.resolve(name), source);
        if (name.endsWith(".c")) {
          command.add(dir.resolve(name).toString());
        }
      }
      Path log = dir.resolve("compiler.log");
      Process p;
      try {
        p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
            .redirectOutput(log.toFile()).start();
      } catch (IOException e) {
        throw new IllegalStateException(cannot + "it could not be started (" + e.getMessage() + ")" + fix, e);
      }
      if (!p.waitFor(COMPILE_LIMIT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new IllegalStateException(cannot + "it did not end within " + COMPILE_LIMIT_SECONDS + " s" + fix);
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(cannot + "it exited with " + p.exitValue() + ":\n"
            + Files.readString(log).strip() + "\n" + fix.substring(2));
      }
      return Files.readAllBytes(dir.resolve("shim"));
    } catch (IOException e) {
      throw new UncheckedIOException(cannot + e.getMessage() + ". Set snakepit.cache-dir to a writable directory.",
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(cannot + "interrupted while compiling", e);
    } finally {
      if (dir != null) {
        deleteTree(dir);
      }
    }
  }

  private static List<String> sourceNames() {
    byte[] list = readResource(SOURCE_DIR + "FILES");
    if (list == null) {
      throw new IllegalStateException("this snakepit-native jar carries neither a shim for this machine's"
          + " architecture " + arch() + " nor the shim's C source (" + SOURCE_DIR + "FILES). Rebuild snakepit-native"
          + " on this machine: mvn -DskipTests install");
    }
    List<String> names = new String(list, StandardCharsets.UTF_8).lines().map(String::strip)
        .filter(s -> !s.isEmpty()).toList();
    for (String name : names) {
      // Names only, as build-shim.sh writes them: never a path out of the build directory.
      if (!name.matches("[A-Za-z0-9_-]+\\.[ch]")) {
        throw new IllegalStateException("the shim's source list " + SOURCE_DIR + "FILES in the snakepit-native jar"
            + " names '" + name + "', not a C file name. Rebuild snakepit-native: mvn -DskipTests install");
      }
    }
    return names;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // A leftover build directory is harmless (owner-only, dot-named); the compile's outcome matters more.
    }
  }

  /** A resource next to this class, or null if the jar does not carry it. */
  private static byte[] readResource(String name) {
    try (InputStream in = ShimBinary.class.getResourceAsStream(name)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + name + " from the snakepit-native jar: " + e.getMessage(), e);
    }
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
