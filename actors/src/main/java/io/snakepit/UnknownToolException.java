package io.snakepit;

import java.util.List;

/** The adapter has no tool by the name called; the message lists the tools it has. */
public final class UnknownToolException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final String tool;
  private final List<String> available;

  public UnknownToolException(String tool, List<String> available, String message) {
    super(message);
    this.tool = tool;
    this.available = List.copyOf(available);
  }

  /** The name that was called. */
  public String tool() {
    return tool;
  }

  /** The tools the adapter does have. */
  public List<String> available() {
    return available;
  }
}
