package io.snakepit;

/** The call waited in the pool's queue longer than the pool's {@code queue-timeout}; it never reached a worker. */
public final class QueueTimeoutException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public QueueTimeoutException(String message) {
    super(message);
  }
}
