package io.snakepit.persistence;

import io.snakepit.shim.PrivateDirectory;
import io.snakepit.shim.PrivateDirectory.Access;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The node's data directory (instance locks, the embedded journal, the gateway's token): mode 0700, its files 0600,
 * so that no other local user reads the journal or the token. The directory may be a symlink (to another disk, say)
 * if its target is a directory of this user's.
 */
public final class DataDirectory {
  private DataDirectory() {}

  /**
   * Creates {@code dir} (and missing parents) with mode 0700, or checks the existing one: it must be this user's;
   * group and other permission bits are removed.
   *
   * @return a warning for the log when the permissions were narrowed, else empty
   * @throws IllegalStateException if the directory (or a symlink's target) is not a directory of this user's,
   *     naming it and the fix
   */
  public static Optional<String> prepare(Path dir) {
    try {
      if (dir.toAbsolutePath().getParent() != null) {
        Files.createDirectories(dir.toAbsolutePath().getParent());
      }
      try {
        Files.createDirectory(dir, PrivateDirectory.DIRECTORY_MODE);
        return Optional.empty();
      } catch (FileAlreadyExistsException exists) {
        // checked below
      }
      Path real = dir.toRealPath();
      Optional<String> problem = PrivateDirectory.problem(real, Access.READ).filter(p -> !p.startsWith("has mode"));
      if (problem.isPresent()) {
        throw new IllegalStateException("the data directory " + dir + (real.equals(dir.toAbsolutePath()) ? " "
            : " (" + real + ") ") + problem.get() + ": refusing to use it. Give it to this user (chown), or set"
            + " snakepit.data-dir (--data-dir) to a directory of this user's");
      }
      int mode = (Integer) Files.getAttribute(real, "unix:mode") & 0777;
      if ((mode & 0077) == 0) {
        return Optional.empty();
      }
      PrivateDirectory.chmod(real, PosixFilePermissions.fromString("rwx------"));
      return Optional.of("the data directory " + real + " had mode " + PrivateDirectory.octal(mode)
          + ": narrowed to 0700, so that no other user reads the journal, the locks or the token");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the data directory " + dir + ": " + e.getMessage()
          + ". Set snakepit.data-dir (--data-dir) to a writable directory", e);
    }
  }

  /** Narrows the files of {@code dir} whose names start with {@code prefix} to mode 0600 (those of this user's). */
  public static void restrictFiles(Path dir, String prefix) {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith(prefix)).toList()) {
        PrivateDirectory.restrictFile(f);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot narrow the permissions of the files " + prefix + "* in " + dir + ": "
          + e.getMessage(), e);
    }
  }
}
