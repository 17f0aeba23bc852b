package io.snakepit;

import java.util.Locale;

/**
 * A call's arguments, or a result the tool returned, are larger than the pool's {@code max-message-size}. Arguments
 * over it are never sent; a result over it was computed (the tool ran) but is not sent, and the worker stays up. The
 * message names the size, the limit and the setting to raise.
 */
public final class MessageTooLargeException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public MessageTooLargeException(String message) {
    super(message);
  }

  /**
   * The arguments of a call to {@code tool} on {@code pool} encode to {@code size} bytes, over {@code limit}: the
   * error a pool gives for such a call, on its own node or (for another node's pool) on the caller's.
   */
  public static MessageTooLargeException arguments(String pool, String tool, long size, int limit) {
    return new MessageTooLargeException("the arguments of tool '" + tool + "' are " + bytes(size)
        + ", over pool '" + pool + "''s max-message-size of " + bytes(limit) + "; nothing was sent. Send less (split"
        + " the call), or raise " + setting(pool));
  }

  /** The setting that limits {@code pool}'s messages, as a path in application.conf. */
  static String setting(String pool) {
    String key = pool.matches("[A-Za-z0-9_-]+") ? pool : "\"" + pool.replace("\"", "\\\"") + "\"";
    return "snakepit.pools." + key + ".max-message-size";
  }

  private static String bytes(long n) {
    return String.format(Locale.ROOT, "%d bytes (%.1f MiB)", n, n / 1048576.0);
  }
}
