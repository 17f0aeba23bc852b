package io.snakepit.persistence;

/** How a journal entry was closed. */
public enum Settlement {
  /** The worker's tree was found gone: it ended by itself (or its shim took it down). */
  EXITED("exited by itself"),
  /** Processes of the tree were found alive, verified, and killed. */
  KILLED("killed"),
  /** The recorded pid belongs to another process now; it was left alone. */
  IMPOSTOR("skipped as an impostor"),
  /** The entry was written under another boot: its pids mean nothing now; nothing was killed. */
  REBOOTED("dropped after a reboot");

  private final String description;

  Settlement(String description) {
    this.description = description;
  }

  /** How a report reads it. */
  public String description() {
    return description;
  }
}
