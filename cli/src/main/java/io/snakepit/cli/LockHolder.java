package io.snakepit.cli;

import io.snakepit.persistence.InstanceLock;
import io.snakepit.shim.Pidfd;
import io.snakepit.shim.ProcStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The node that holds an instance's lock, asked to detach (SIGUSR2, {@link PlannedRestart}): what {@code snakepit
 * detach} and {@code serve --take-over} both do, so that only a verified holder is ever signalled. The pid comes
 * from the lock file; it is held open by pidfd, must hold that very lock (/proc/locks) when it is signalled, and must
 * be the serve that said so in {@link #marker} (pid and start time): an application embedding Snakepit also holds
 * the lock, and SIGUSR2 is not its to take.
 */
final class LockHolder {
  /** Exit status when no node holds the lock (detach's 3). */
  static final int NONE = 3;

  /**
   * What the search found: the node signalled ({@code error} null), or why none was, for stderr, with the exit
   * status it calls for ({@link #NONE} when no node runs there, 1 when the node could not be signalled).
   */
  record Found(int pid, long startTime, String error, int exit) {
    boolean signalled() {
      return error == null;
    }

    static Found none(String error) {
      return new Found(0, 0, error, NONE);
    }
  }

  private LockHolder() {}

  /** Sends SIGUSR2 to the node holding {@code instance}'s lock in {@code dataDir}, if one does. */
  static Found detach(Path dataDir, String instance) throws IOException {
    Path lock = InstanceLock.file(dataDir, instance).toAbsolutePath().normalize();
    if (!Files.exists(lock)) {
      return Found.none("no node of instance '" + instance + "' has run with data directory "
          + dataDir.toAbsolutePath().normalize() + " (no " + lock + "): give the node's --data-dir and --instance");
    }
    String holder = InstanceLock.holder(dataDir, instance);
    int pid;
    try {
      pid = Integer.parseInt(holder);
    } catch (NumberFormatException e) {
      return Found.none(lock + " names no pid ('" + holder + "'): no node runs there");
    }
    Optional<Pidfd> handle = Pidfd.open(pid);
    if (handle.isEmpty()) {
      return Found.none("no node of instance '" + instance + "' runs (pid " + pid + " in " + lock + " is gone)");
    }
    try (Pidfd node = handle.get()) {
      // Held open by pidfd: the pid cannot be reused before the signal. It must hold the instance's lock now.
      Optional<ProcStat> stat = ProcStat.read(pid);
      if (stat.isEmpty() || !DetachCommand.NodeLocks.holds(pid, lock)) {
        return Found.none("no node of instance '" + instance + "' runs: pid " + pid + " (named in " + lock
            + ") does not hold that lock; nothing was signalled");
      }
      // Only a serve takes SIGUSR2 as a planned restart: to an application that embeds Snakepit it could be fatal.
      if (!awaitMarked(dataDir, instance, pid, stat.get().startTime())) {
        return new Found(pid, 0, "the node of instance '" + instance + "' (pid " + pid + ") is not a snakepit serve"
            + " that takes a planned restart (no " + marker(dataDir, instance) + " naming it): an application that"
            + " embeds Snakepit detaches through Snakepit.detach; nothing was signalled", 1);
      }
      if (!node.signal(PlannedRestart.SIGNAL_NUMBER)) {
        return new Found(pid, 0, "cannot signal the node (pid " + pid + "): run as the node's user", 1);
      }
      return new Found(pid, stat.get().startTime(), null, 0);
    }
  }

  /** The file a serve writes once it holds the instance lock and takes SIGUSR2: its pid and start time. */
  static Path marker(Path dataDir, String instance) {
    return dataDir.resolve(instance + ".serve").toAbsolutePath().normalize();
  }

  /** Says, in {@link #marker}, that this JVM is the serve holding {@code instance}'s lock and takes SIGUSR2. */
  static void markServe(Path dataDir, String instance) throws IOException {
    long pid = ProcessHandle.current().pid();
    long start = ProcStat.read((int) pid).map(ProcStat::startTime).orElse(0L);
    Path file = marker(dataDir, instance);
    Path written = file.resolveSibling(file.getFileName() + "." + pid);
    Files.writeString(written, pid + " " + start + "\n");
    Files.setPosixFilePermissions(written, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Files.move(written, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Whether {@link #marker} names process {@code pid} started at {@code startTime}, waiting up to 2 s for it: a serve
   * writes it a moment after it takes the lock.
   */
  private static boolean awaitMarked(Path dataDir, String instance, int pid, long startTime) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (!marked(dataDir, instance, pid, startTime)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** Whether {@link #marker} names process {@code pid} started at {@code startTime}. */
  private static boolean marked(Path dataDir, String instance, int pid, long startTime) {
    try {
      String[] fields = Files.readString(marker(dataDir, instance)).trim().split(" ");
      return fields.length == 2 && Integer.parseInt(fields[0]) == pid && Long.parseLong(fields[1]) == startTime;
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }

  /** Waits until the signalled node has exited, at most {@code timeout}: false if it still runs then. */
  static boolean awaitExit(Found node, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (ProcStat.isAlive(node.pid(), node.startTime())) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }
}
