package io.snakepit.actors;

import io.snakepit.shim.PrivateDirectory;
import io.snakepit.shim.PrivateDirectory.Access;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The directory of a node's worker sockets (and runc bundles), {@code BASE/<instance16>-<pid>-<random>}, mode 0700.
 * It exists because the default base sits in a place every local user can write: a base another user made first,
 * or a symlink planted there, would give them the sockets or have the node chmod their target. So the base is
 * created 0700 in one step or checked with lstat (a real directory, ours, closed to others), never followed, and the
 * node refuses to start otherwise, naming the fix.
 *
 * <p>The base: {@code snakepit.run-dir} if set (it may be readable by others, e.g. 0755, since each node's directory
 * in it is 0700, but not writable by them); else {@code $XDG_RUNTIME_DIR/snakepit} when XDG_RUNTIME_DIR is this
 * user's private directory; else {@code java.io.tmpdir/snakepit-<uid>}. Both defaults must be 0700.
 */
public final class RunDirectory {
  /** A pid that started this long after a run directory's last change cannot be the JVM that made it. */
  private static final Duration PID_REUSE_MARGIN = Duration.ofSeconds(1);

  /** The marker a JVM that adopted the workers of an earlier JVM's run directory leaves in it. */
  private static final Pattern ADOPTED_BY = Pattern.compile("adopted-by-(\\d{1,10})");

  private RunDirectory() {}

  /**
   * Creates this JVM's run directory for {@code instance}, after removing those that dead JVMs of the instance left in
   * the same base.
   *
   * @param configured {@code snakepit.run-dir}, empty for the default
   * @throws IllegalStateException if the base is unsafe, naming it, what is wrong and the fix
   */
  public static Path create(String configured, String instance) {
    Path base = base(configured, System.getenv(), Path.of(System.getProperty("java.io.tmpdir")));
    String prefix = prefix(instance);
    removeStale(base, prefix, ProcessHandle.current().pid());
    try {
      return Files.createTempDirectory(base, prefix + "-" + ProcessHandle.current().pid() + "-",
          PrivateDirectory.DIRECTORY_MODE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the socket directory for the workers in " + base + ": "
          + e.getMessage() + ". Set snakepit.run-dir to a writable directory with a short path", e);
    }
  }

  /** The base the run directories go in, checked (and created if missing), as the class comment says. */
  public static Path base(String configured, Map<String, String> env, Path tmpdir) {
    if (!configured.isEmpty()) {
      Path dir = Path.of(configured).toAbsolutePath();
      try {
        Files.createDirectories(dir.getParent());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create snakepit.run-dir " + dir + ": " + e.getMessage()
            + ". Set snakepit.run-dir to a writable directory with a short path", e);
      }
      return PrivateDirectory.claim(dir, Access.READ, "snakepit.run-dir",
          "Set snakepit.run-dir to a real directory owned by this user that group and others cannot write"
              + " (e.g. chmod 0700), or leave it empty for the default");
    }
    String fix = "Remove it (it is not this node's to repair), or set snakepit.run-dir to a directory owned by this"
        + " user that others cannot write";
    Optional<Path> runtime = privateRuntimeDir(env);
    if (runtime.isPresent()) {
      return PrivateDirectory.claim(runtime.get().resolve("snakepit"), Access.NONE, "the socket directory base",
          fix);
    }
    return PrivateDirectory.claim(tmpdir.resolve("snakepit-" + PrivateDirectory.uid()), Access.NONE,
        "the socket directory base", fix + ", or set XDG_RUNTIME_DIR to this user's private runtime directory");
  }

  /** XDG_RUNTIME_DIR, if set to an existing 0700 directory of this user's. */
  private static Optional<Path> privateRuntimeDir(Map<String, String> env) {
    String xdg = env.get("XDG_RUNTIME_DIR");
    if (xdg == null || xdg.isEmpty() || !xdg.startsWith("/")) {
      return Optional.empty();
    }
    Path dir = Path.of(xdg);
    try {
      return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && PrivateDirectory.problem(dir, Access.NONE).isEmpty()
          ? Optional.of(dir) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The start of the names of {@code instance}'s run directories. */
  static String prefix(String instance) {
    String safe = instance.replaceAll("[^A-Za-z0-9_.-]", "_");
    return safe.length() > 16 ? safe.substring(0, 16) : safe;
  }

  /**
   * Removes the run directories named {@code prefix-PID-*} in {@code base} whose JVM is gone: no process has that pid,
   * or the one that has it started after the directory was last changed (a reused pid). The base was checked: only
   * this user can have made entries in it; entries that are not real directories owned by this user are left alone.
   *
   * @return the directories removed
   */
  public static List<Path> removeStale(Path base, String prefix, long ownPid) {
    Pattern name = Pattern.compile(Pattern.quote(prefix) + "-(\\d{1,10})-.+");
    List<Path> removed = new ArrayList<>();
    List<Path> entries;
    try (Stream<Path> list = Files.list(base)) {
      entries = list.toList();
    } catch (IOException | UncheckedIOException e) {
      return removed;
    }
    for (Path dir : entries) {
      Matcher m = name.matcher(dir.getFileName().toString());
      try {
        if (m.matches() && Long.parseLong(m.group(1)) != ownPid && isStale(dir, Long.parseLong(m.group(1)))) {
          deleteTree(dir);
          removed.add(dir);
        }
      } catch (IOException | UncheckedIOException e) {
        // A leftover directory harms nothing but space: the next start tries again.
      }
    }
    return removed;
  }

  private static boolean isStale(Path dir, long pid) throws IOException {
    if (PrivateDirectory.problem(dir, Access.READ).isPresent() || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    if (!alive(pid, dir)) {
      try (Stream<Path> list = Files.list(dir)) {
        // A shim waiting for a next node (its control socket), or a live node that adopted the workers in it.
        return list.noneMatch(p -> p.getFileName().toString().endsWith(".ctl") || adoptedByLiveNode(p));
      }
    }
    return false;
  }

  /** Whether {@code pid} is alive and started before {@code changed} was last changed (not a reused pid). */
  private static boolean alive(long pid, Path changed) throws IOException {
    Optional<ProcessHandle> process = ProcessHandle.of(pid);
    if (process.isEmpty() || !process.get().isAlive()) {
      return false;
    }
    Instant at = Files.getLastModifiedTime(changed, LinkOption.NOFOLLOW_LINKS).toInstant();
    return process.get().info().startInstant().map(started -> !started.isAfter(at.plus(PID_REUSE_MARGIN)))
        .orElse(true);
  }

  private static boolean adoptedByLiveNode(Path file) {
    Matcher m = ADOPTED_BY.matcher(file.getFileName().toString());
    try {
      return m.matches() && alive(Long.parseLong(m.group(1)), file);
    } catch (IOException | NumberFormatException e) {
      return true; // unsure: keep the directory
    }
  }

  /**
   * Marks {@code dir}, an earlier JVM's run directory whose workers this JVM adopted, as in use for as long as this
   * JVM lives: {@link #removeStale} of any later start leaves it alone.
   */
  public static void markAdopted(Path dir) throws IOException {
    Path marker = dir.resolve("adopted-by-" + ProcessHandle.current().pid());
    Files.deleteIfExists(marker);
    Files.createFile(marker);
  }

  /** Deletes a tree without following the symlinks in it. */
  private static void deleteTree(Path dir) throws IOException {
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        Files.deleteIfExists(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
