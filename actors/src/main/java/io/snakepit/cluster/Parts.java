package io.snakepit.cluster;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a call's request or result that does not fit one artery frame
 * ({@code akka.remote.artery.advanced.maximum-frame-size}) into parts, and joins them back on the other node. It exists
 * so that a call between nodes is bounded by its pool's {@code max-message-size}, as on one node, and not by the
 * frame: only a part has to fit the frame. Each part names its index and the count, so the parts join whatever order
 * they arrive in. A plain class: the actors hold one {@link Joining} per message on its way and route parts to it.
 */
final class Parts {
  private Parts() {}

  /**
   * {@code whole} in parts of at most {@code partSize} bytes, in order; at least one part (an empty message is one
   * empty part).
   */
  static List<byte[]> split(byte[] whole, int partSize) {
    if (partSize < 1) {
      throw new IllegalArgumentException("a part must hold at least 1 byte, not " + partSize);
    }
    List<byte[]> parts = new ArrayList<>(count(whole.length, partSize));
    int at = 0;
    do {
      int end = (int) Math.min(whole.length, (long) at + partSize);
      parts.add(Arrays.copyOfRange(whole, at, end));
      at = end;
    } while (at < whole.length);
    return parts;
  }

  /** How many parts of at most {@code partSize} bytes a message of {@code length} bytes takes. */
  static int count(int length, int partSize) {
    return Math.max(1, (int) (((long) length + partSize - 1) / partSize));
  }

  /**
   * One message being joined from its parts. It holds at most {@code limit} bytes however its parts come: a part that
   * would take it over, or that disagrees with the count or repeats an index, is refused with an
   * {@link IllegalArgumentException} naming why, and the message is then to be dropped.
   */
  static final class Joining {
    private final int count;
    private final long limit;
    private final byte[][] parts;
    private int received;
    private long size;

    /**
     * @param count the number of parts the first part named
     * @param limit the most bytes the whole may hold
     */
    Joining(int count, long limit) {
      if (count < 1) {
        throw new IllegalArgumentException("a message in parts names " + count + " parts; it has at least 1");
      }
      // A count no message within the limit can have (parts are never empty but for a single empty one).
      if (count > 1 && count > limit) {
        throw new TooLarge("a message in " + count + " parts is over the limit of " + limit + " bytes");
      }
      this.count = count;
      this.limit = limit;
      this.parts = new byte[count][];
    }

    /**
     * Adds part {@code index} of {@code count}.
     *
     * @return the whole message once every part is in, else null
     */
    byte[] add(int index, int count, byte[] part) {
      if (count != this.count) {
        throw new IllegalArgumentException("part " + index + " names " + count + " parts, the first named "
            + this.count);
      }
      if (index < 0 || index >= count) {
        throw new IllegalArgumentException("part index " + index + " is outside 0.." + (count - 1));
      }
      if (parts[index] != null) {
        throw new IllegalArgumentException("part " + index + " of " + count + " came twice");
      }
      if (size + part.length > limit) {
        throw new TooLarge("the parts come to more than the limit of " + limit + " bytes");
      }
      parts[index] = part;
      size += part.length;
      received++;
      if (received < count) {
        return null;
      }
      byte[] whole = new byte[(int) size];
      int at = 0;
      for (byte[] p : parts) {
        System.arraycopy(p, 0, whole, at, p.length);
        at += p.length;
      }
      return whole;
    }

    /** The parts taken so far. */
    int received() {
      return received;
    }

    /** The parts named. */
    int count() {
      return count;
    }

    /** The bytes held so far. */
    long size() {
      return size;
    }
  }

  /** A message in parts that comes to more than its limit. */
  static final class TooLarge extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    TooLarge(String message) {
      super(message);
    }
  }
}
