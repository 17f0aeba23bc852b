package io.snakepit.shim;

/**
 * Where a {@link ShimLineDecoder} hands Python's relayed output ({@code OUT}, {@code ERR} and their {@code +} pieces,
 * docs/SHIM-PROTOCOL.md) as raw bytes: no String is made per line, so a reader that drops most lines pays little for
 * them. Called on the decoder's thread; the array is the decoder's and is reused once the call returns.
 */
@FunctionalInterface
public interface OutputLines {

  /**
   * One relayed line, or one piece of a longer line.
   *
   * @param stderr whether it came from Python's stderr (else stdout)
   * @param bytes holds the text, without the tag and without a newline, as Python wrote it (any bytes)
   * @param from the text's first index in {@code bytes}
   * @param to the index past its last byte
   * @param continued whether this is a piece of a longer line whose next piece (or end) is the next relayed line of
   *     the same stream
   */
  void line(boolean stderr, byte[] bytes, int from, int to, boolean continued);
}
