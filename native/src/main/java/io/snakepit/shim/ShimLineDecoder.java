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

  /** Consumes every byte left in {@code chunk}, emitting one event per complete line (relayed output included). */
  public void feed(ByteBuffer chunk, Consumer<ShimEvent> sink) {
    feedLines(chunk, line -> sink.accept(ShimEvent.parse(line)));
  }

  /**
   * Consumes every byte left in {@code chunk}: relayed output lines go to {@code output} as bytes, every other line
   * to {@code events} as an event.
   */
  public void feed(ByteBuffer chunk, Consumer<ShimEvent> events, OutputLines output) {
    while (chunk.hasRemaining()) {
      byte b = chunk.get();
      if (b == '\n' || length == MAX_LINE) {
        if (!relayed(output)) {
          events.accept(ShimEvent.parse(new String(pending, 0, length, StandardCharsets.UTF_8)));
        }
        length = 0;
        if (b == '\n') {
          continue;
        }
      }
      append(b);
    }
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
      append(b);
    }
  }

  private void append(byte b) {
    if (length == pending.length) {
      pending = Arrays.copyOf(pending, pending.length * 2);
    }
    pending[length++] = b;
  }

  /** Hands the pending line to {@code output} if it is relayed output ({@code OUT }, {@code OUT+ }, ...). */
  private boolean relayed(OutputLines output) {
    if (length < 4) {
      return false;
    }
    boolean stderr;
    if (pending[0] == 'O' && pending[1] == 'U' && pending[2] == 'T') {
      stderr = false;
    } else if (pending[0] == 'E' && pending[1] == 'R' && pending[2] == 'R') {
      stderr = true;
    } else {
      return false;
    }
    if (pending[3] == ' ') {
      output.line(stderr, pending, 4, length, false);
      return true;
    }
    if (pending[3] == '+' && length >= 5 && pending[4] == ' ') {
      output.line(stderr, pending, 5, length, true);
      return true;
    }
    return false;
  }
}
