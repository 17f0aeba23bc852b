package io.snakepit;

/** The call's arguments were not a JSON object the tool could take. */
public final class InvalidArgumentsException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public InvalidArgumentsException(String message) {
    super(message);
  }
}
