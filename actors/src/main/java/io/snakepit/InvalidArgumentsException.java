package io.snakepit;

/**
 * The call's arguments were not a JSON object the tool could take, or (typed calls) could not be serialized to one;
 * arguments refused in the JVM were never sent.
 */
public final class InvalidArgumentsException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public InvalidArgumentsException(String message) {
    super(message);
  }

  public InvalidArgumentsException(String message, Throwable cause) {
    super(message, cause);
  }
}
