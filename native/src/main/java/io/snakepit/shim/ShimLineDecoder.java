package io.snakepit.shim;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Splits the shim's stdout, which arrives in arbitrary chunks, into lines and parses each into a {@link ShimEvent}.
 * Not thread-safe: one decoder per process, fed from that process's callback thread.
 */
public final class ShimLineDecoder {
  private static final int MAX_LINE = 64 * 1024;

  private byte[] pending = new byte[1024];
  private int length;

  /** Consumes every byte left in {@code chunk}, emitting one event per complete line. */
  public void feed(ByteBuffer chunk, Consumer<ShimEvent> sink) {
    feedLines(chunk, line -> sink.accept(ShimEvent.parse(line)));
  }

  /** Consumes every byte left in {@code chunk}, emitting each complete line as text. */
  public void feedLines(ByteBuffer chunk, Consumer<String> sink) {
    while (chunk.hasRemaining()) {
      byte b = chunk.get();
      if (b == '\n' || length == MAX_LINE) {
        sink.accept(new String(pending, 0, length, StandardCharsets.UTF_8));
        length = 0;
        if (b == '\n') {
          continue;
        }
      }
      if (length == pending.length) {
        pending = Arrays.copyOf(pending, pending.length * 2);
      }
      pending[length++] = b;
    }
  }
}
