package io.snakepit;

/** The root of every error Snakepit hands to a caller; each subclass names one way a call can fail. */
public class SnakepitException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SnakepitException(String message) {
    super(message);
  }

  public SnakepitException(String message, Throwable cause) {
    super(message, cause);
  }

  /** A short, stable name of this kind of error, as the gateway and the command line print it. */
  public String kind() {
    String name = getClass().getSimpleName();
    return name.endsWith("Exception") ? name.substring(0, name.length() - "Exception".length()) : name;
  }
}
