package io.snakepit.actors.worker;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * One worker's output file for {@code output = file}: {@code <worker>.log}, rotated to {@code <worker>.log.1} (and
 * on, up to {@code keep} old files, the oldest deleted) before a write would take it past {@code maxSize}, so the
 * worker's files never hold more than {@code maxSize * (keep + 1)} bytes. Writes are buffered and reach the file on
 * {@link #flush()}, on rotation and on {@link #close()}. Not thread-safe: its owner synchronizes.
 */
final class OutputFile {
  private final Path file;
  private final long maxSize;
  private final int keep;
  private OutputStream out;
  private long size;

  OutputFile(Path file, long maxSize, int keep) {
    this.file = file;
    this.maxSize = maxSize;
    this.keep = keep;
  }

  /** The current file (older ones carry {@code .1}, {@code .2}... after its name). */
  Path path() {
    return file;
  }

  /** Appends one line (a newline is added); a line longer than the cap is cut to fit. */
  void write(String line) throws IOException {
    byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
    int length = (int) Math.min(bytes.length, maxSize - 1);
    if (out == null) {
      open();
    }
    if (size + length + 1 > maxSize) {
      rotate();
    }
    out.write(bytes, 0, length);
    out.write('\n');
    size += length + 1;
  }

  /** Hands what is buffered to the file. */
  void flush() throws IOException {
    if (out != null) {
      out.flush();
    }
  }

  void close() throws IOException {
    if (out != null) {
      out.close();
      out = null;
    }
  }

  private void open() throws IOException {
    Files.createDirectories(file.getParent());
    size = Files.exists(file) ? Files.size(file) : 0;
    out = new BufferedOutputStream(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND),
        64 * 1024);
  }

  private void rotate() throws IOException {
    out.close();
    out = null;
    if (keep > 0) {
      Files.deleteIfExists(rotated(keep));
    }
    for (int i = keep - 1; i >= 1; i--) {
      if (Files.exists(rotated(i))) {
        Files.move(rotated(i), rotated(i + 1), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    if (keep > 0) {
      Files.move(file, rotated(1), StandardCopyOption.REPLACE_EXISTING);
    } else {
      Files.deleteIfExists(file);
    }
    open();
  }

  private Path rotated(int index) {
    return file.resolveSibling(file.getFileName() + "." + index);
  }
}
