package io.snakepit.persistence;

import io.snakepit.shim.PrivateDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Set;

/**
 * The lock that makes a JVM the owner of one instance's journal on this host. The kernel releases it when the JVM
 * dies, whatever kills it, so a lock that can be taken means nobody alive owns those workers.
 */
public final class InstanceLock implements AutoCloseable {
  private final Path path;
  private final FileChannel channel;
  private final FileLock lock;

  private InstanceLock(Path path, FileChannel channel, FileLock lock) {
    this.path = path;
    this.channel = channel;
    this.lock = lock;
  }

  /** The lock file of {@code instance} in {@code dataDir}. */
  public static Path file(Path dataDir, String instance) {
    return dataDir.resolve(instance + ".lock");
  }

  /** Takes the lock, or returns empty if a live process holds it. */
  public static Optional<InstanceLock> tryAcquire(Path dataDir, String instance) {
    Path path = file(dataDir, instance);
    try {
      DataDirectory.prepare(dataDir);
      FileChannel channel = FileChannel.open(path, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PrivateDirectory.FILE_MODE);
      PrivateDirectory.restrictFile(path); // made 0644 by an earlier version
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException heldHere) {
        lock = null;
      }
      if (lock == null) {
        channel.close();
        return Optional.empty();
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
      channel.force(true);
      return Optional.of(new InstanceLock(path, channel, lock));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the instance lock " + path + ": " + e.getMessage()
          + ". Check that the data directory is writable (snakepit.data-dir / --data-dir)", e);
    }
  }

  /** Takes the lock or fails with a message naming the holder and what to do. */
  public static InstanceLock acquire(Path dataDir, String instance) {
    return tryAcquire(dataDir, instance).orElseThrow(() -> new IllegalStateException(
        "another node with instance name '" + instance + "' is running on this host (pid " + holder(dataDir,
            instance) + " holds " + file(dataDir, instance) + "). Stop it, or give this node another name"
            + " (snakepit.instance, or --instance)"));
  }

  /** The pid written by the lock's holder, as text ("?" if unknown). */
  public static String holder(Path dataDir, String instance) {
    try {
      String pid = Files.readString(file(dataDir, instance)).trim();
      return pid.isEmpty() ? "?" : pid;
    } catch (IOException e) {
      return "?";
    }
  }

  /** The lock file. */
  public Path path() {
    return path;
  }

  @Override
  public void close() {
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      // The kernel drops the lock with the descriptor anyway.
    }
  }
}
