package io.snakepit;

/**
 * The worker registry's journal is failing writes (a full disk, a database that is down), so no worker can be started:
 * a worker is used only once its identity is durably written. Calls that find no live worker fail with this at once.
 * The node recovers by itself when the journal takes writes again, and stops if it does not within
 * {@code snakepit.registry.outage.exit-after}.
 */
public final class JournalUnavailableException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  public JournalUnavailableException(String message) {
    super(message);
  }
}
