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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/**
 * The lock that makes a JVM the owner of one instance's journal on this host. The kernel releases it when the JVM
 * dies, whatever kills it, so a lock that can be taken means nobody alive owns those workers.
 */
public final class InstanceLock implements AutoCloseable {
  private static final String INCARNATIONS = "incarnations ";

  private final Path path;
  private final FileChannel channel;
  private final FileLock lock;
  private final long previousIncarnations;

  private InstanceLock(Path path, FileChannel channel, FileLock lock, long previousIncarnations) {
    this.path = path;
    this.channel = channel;
    this.lock = lock;
    this.previousIncarnations = previousIncarnations;
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
      long previous = readIncarnations(channel);
      InstanceLock held = new InstanceLock(path, channel, lock, previous);
      held.write(previous);
      return Optional.of(held);
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
      String pid = Files.readString(file(dataDir, instance)).lines().findFirst().orElse("").trim();
      return pid.isEmpty() ? "?" : pid;
    } catch (IOException e) {
      return "?";
    }
  }

  /** The lock file. */
  public Path path() {
    return path;
  }

  /**
   * How many incarnations the journal held when the last holder recorded it; -1 if the file had no record (new, or
   * written by a version that kept none). A journal that holds fewer went back in time or was recreated.
   */
  public long previousIncarnations() {
    return previousIncarnations;
  }

  /** Records the journal's incarnation count, durably, for the next holder to check the journal against. */
  public void recordIncarnations(long count) {
    try {
      write(count);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the instance lock " + path + ": " + e.getMessage(), e);
    }
  }

  /**
   * A short name of this lock, carried in every worker's environment: only the holder of this very lock may settle
   * a process that carries it, so a node with the same instance name but another data directory is never touched.
   */
  public String identity() {
    return identity(path);
  }

  /** The identity of the lock file at {@code path}. */
  public static String identity(Path path) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256")
          .digest(path.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private void write(long incarnations) throws IOException {
    String record = ProcessHandle.current().pid() + "\n" + (incarnations < 0 ? "" : INCARNATIONS + incarnations + "\n");
    channel.truncate(0);
    channel.write(ByteBuffer.wrap(record.getBytes(StandardCharsets.US_ASCII)), 0);
    channel.force(true);
  }

  private static long readIncarnations(FileChannel channel) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(256);
    channel.read(buffer, 0);
    String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII);
    for (String line : text.split("\n")) {
      if (line.startsWith(INCARNATIONS)) {
        try {
          return Long.parseLong(line.substring(INCARNATIONS.length()).trim());
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
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
