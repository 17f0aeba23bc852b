package io.snakepit;

/** The call to a live worker failed in transport (a gRPC status other than a Python error). */
public final class WorkerCallException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public WorkerCallException(String message, Throwable cause) {
    super(message, cause);
  }
}
