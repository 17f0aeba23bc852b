package io.snakepit;

/** The call did not finish before its deadline; the worker was told to stop it (gRPC cancels the call). */
public final class CallTimeoutException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public CallTimeoutException(String message) {
    super(message);
  }
}
