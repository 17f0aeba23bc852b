package io.snakepit.actors.worker;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The last lines of a worker's stderr, for its start-failure and crash messages. Written on NuProcess's thread (every
 * stderr line, including those the rate limit keeps out of the log) and by the actor (the shim's and the node's own
 * notes), read by the actor: every method is synchronized. Lines are kept as bytes and turned into text only when
 * read, so a flood costs one small copy per line.
 */
final class StderrTail {
  private final int capacity;
  private final ArrayDeque<byte[]> lines;

  /** Keeps the last {@code capacity} lines (0: none). */
  StderrTail(int capacity) {
    this.capacity = capacity;
    this.lines = new ArrayDeque<>(Math.max(1, Math.min(capacity, 1024)));
  }

  /** Keeps {@code bytes[from, to)} as a line, dropping the oldest past the capacity. */
  void add(byte[] bytes, int from, int to) {
    add(bytes, from, to, 0);
  }

  /** Keeps {@code bytes[from, to)} as a line of which {@code cut} more bytes were cut off (then marked so). */
  synchronized void add(byte[] bytes, int from, int to, long cut) {
    if (capacity == 0) {
      return;
    }
    if (lines.size() == capacity) {
      lines.removeFirst();
    }
    byte[] line = Arrays.copyOfRange(bytes, from, to);
    if (cut > 0) {
      byte[] marker = WorkerOutput.cutMarker(cut).getBytes(StandardCharsets.US_ASCII);
      line = Arrays.copyOf(line, line.length + marker.length);
      System.arraycopy(marker, 0, line, to - from, marker.length);
    }
    lines.addLast(line);
  }

  /** Keeps a line of text. */
  void add(String line) {
    byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
    add(bytes, 0, bytes.length);
  }

  /** The kept lines, oldest first, as text ({@link OutputText}). */
  synchronized List<String> lines() {
    List<String> text = new ArrayList<>(lines.size());
    for (byte[] line : lines) {
      text.add(OutputText.of(line, 0, line.length));
    }
    return List.copyOf(text);
  }
}
