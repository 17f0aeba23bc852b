package io.snakepit.shim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Directories a node keeps in places other local users can reach (the temp directory, a data directory), created
 * owner-only in one step and otherwise checked with lstat, never followed: a directory another user made first, or a
 * symlink left in its place, would hand them the workers' sockets or have the node change the target's permissions.
 */
public final class PrivateDirectory {
  /** rwx------, given at creation so that the directory is never open to others, not even for a moment. */
  public static final FileAttribute<Set<PosixFilePermission>> DIRECTORY_MODE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  /** rw-------, for the files of a private directory. */
  public static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  private static final int GROUP_OTHER_BITS = 0077;
  private static final int GROUP_OTHER_WRITE_BITS = 0022;

  private PrivateDirectory() {}

  /** How much others may do with a directory that passes {@link #problem}. */
  public enum Access {
    /** No group or other permission bit at all (mode 0700 or stricter). */
    NONE,
    /** Others may list and enter it but not write (e.g. 0755): for a directory whose entries are private dirs. */
    READ
  }

  /** The user id this process creates files as. */
  public static int uid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read this process's user id from /proc/self: " + e.getMessage(), e);
    }
  }

  /**
   * What makes {@code dir} unfit to hold this user's private files, as lstat sees it (a symlink is never followed):
   * not a directory, a symlink, owned by another user, or open to others beyond {@code access}. Empty if fit or
   * absent.
   */
  public static Optional<String> problem(Path dir, Access access) throws IOException {
    Map<String, Object> a;
    try {
      a = Files.readAttributes(dir, "unix:uid,mode,isDirectory,isSymbolicLink", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException absent) {
      return Optional.empty();
    }
    if ((Boolean) a.get("isSymbolicLink")) {
      return Optional.of("is a symlink to " + Files.readSymbolicLink(dir));
    }
    if (!(Boolean) a.get("isDirectory")) {
      return Optional.of("is not a directory");
    }
    int owner = (Integer) a.get("uid");
    if (owner != uid()) {
      return Optional.of("is owned by uid " + owner + ", not by this process's uid " + uid());
    }
    int mode = (Integer) a.get("mode") & 07777;
    if ((mode & (access == Access.NONE ? GROUP_OTHER_BITS : GROUP_OTHER_WRITE_BITS)) != 0) {
      return Optional.of("has mode " + octal(mode) + (access == Access.NONE ? " (group or others have access)"
          : " (group or others may write)"));
    }
    return Optional.empty();
  }

  /**
   * Creates {@code dir} with mode 0700 (its parent must exist), or takes the existing one if {@link #problem} finds
   * nothing wrong with it. Nothing is ever chmodded here.
   *
   * @param what what the directory is for, as the error message names it
   * @param fix what the user can do instead, as the error message says
   * @throws IllegalStateException naming the path, what is wrong with it and the fix
   */
  public static Path claim(Path dir, Access access, String what, String fix) {
    try {
      try {
        Files.createDirectory(dir, DIRECTORY_MODE);
        return dir;
      } catch (FileAlreadyExistsException exists) {
        // checked below, as found
      }
      Optional<String> problem = problem(dir, access);
      if (problem.isPresent()) {
        throw new IllegalStateException(what + " " + dir + " " + problem.get() + ": refusing to use it. " + fix);
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + what + " " + dir + ": " + e.getMessage() + ". " + fix, e);
    }
  }

  /**
   * Sets {@code path}'s permission bits, on the entry itself: a symlink in its place makes this fail rather than
   * change the link's target.
   */
  public static void chmod(Path path, Set<PosixFilePermission> permissions) throws IOException {
    Files.getFileAttributeView(path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
        .setPermissions(permissions);
  }

  /** Narrows {@code file} to mode 0600 if it is a regular file (not a symlink) owned by this user. */
  public static void restrictFile(Path file) throws IOException {
    Map<String, Object> a = Files.readAttributes(file, "unix:uid,mode,isRegularFile", LinkOption.NOFOLLOW_LINKS);
    if ((Boolean) a.get("isRegularFile") && (Integer) a.get("uid") == uid()
        && ((Integer) a.get("mode") & 0777) != 0600) {
      chmod(file, PosixFilePermissions.fromString("rw-------"));
    }
  }

  /** A mode as the shell shows it, e.g. 0755. */
  public static String octal(int mode) {
    return String.format("%04o", mode & 07777);
  }
}
