package io.snakepit;

/** The pool cannot take calls: it failed to start, or it is stopping. The message says which and why. */
public final class PoolUnavailableException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public PoolUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
