package io.snakepit.shim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The shim executable carried in this jar, unpacked once into a cache directory under a name that carries its
 * checksum, so that different versions never overwrite each other and a tampered copy is never run.
 */
public final class ShimBinary {

  private ShimBinary() {}

  /** The resource name of the shim built for this machine's architecture. */
  static String resourceName() {
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String normalized = switch (arch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch_64";
      default -> arch;
    };
    return "snakepit-shim-linux-" + normalized;
  }

  /**
   * Returns the path of the shim in {@code cacheDir}, unpacking it first if no verified copy is there.
   *
   * @throws IllegalStateException if this jar carries no shim for this platform
   */
  public static Path extract(Path cacheDir) {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      throw new IllegalStateException("snakepit-shim runs on Linux only; this JVM reports os.name="
          + System.getProperty("os.name"));
    }
    byte[] bytes = readResource(resourceName());
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

  private static byte[] readResource(String name) {
    try (InputStream in = ShimBinary.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("this snakepit-native jar carries no shim named " + name
            + " (built for another architecture?). Rebuild the project on this machine: mvn -DskipTests install");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the shim from the jar: " + e.getMessage(), e);
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
