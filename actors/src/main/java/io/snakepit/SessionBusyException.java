package io.snakepit;

/** The session's worker was busy and the call's affinity ({@link Affinity#STRICT_FAIL_FAST}) forbade waiting. */
public final class SessionBusyException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public SessionBusyException(String message) {
    super(message);
  }
}
