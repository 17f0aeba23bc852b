package io.snakepit;

import java.util.List;

/** A worker could not be started: Python is missing, the adapter failed to import, or it never became ready. */
public final class WorkerStartException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final List<String> stderrTail;

  public WorkerStartException(String message, List<String> stderrTail) {
    super(message + WorkerCrashedException.tail(stderrTail));
    this.stderrTail = List.copyOf(stderrTail);
  }

  /** What the worker wrote on stderr before it failed (a Python traceback, typically), oldest first. */
  public List<String> stderrTail() {
    return stderrTail;
  }
}
