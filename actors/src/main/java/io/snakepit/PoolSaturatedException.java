package io.snakepit;

/** Every worker was busy and the pool's queue was full: the call was refused, not queued. */
public final class PoolSaturatedException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public PoolSaturatedException(String message) {
    super(message);
  }
}
