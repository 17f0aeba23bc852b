package io.snakepit;

import java.util.List;

/** The worker serving the call died during it. The pool replaces the worker; the call itself is not retried. */
public final class WorkerCrashedException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final String exitStatus;
  private final List<String> stderrTail;

  public WorkerCrashedException(String workerId, String exitStatus, List<String> stderrTail) {
    super("worker " + workerId + " crashed during the call: " + exitStatus + tail(stderrTail));
    this.exitStatus = exitStatus;
    this.stderrTail = List.copyOf(stderrTail);
  }

  /** How the worker ended, e.g. "killed by signal 9 (SIGKILL)" or "exited with code 3". */
  public String exitStatus() {
    return exitStatus;
  }

  /** The last lines the worker wrote on stderr, oldest first. */
  public List<String> stderrTail() {
    return stderrTail;
  }

  static String tail(List<String> lines) {
    return lines.isEmpty() ? "" : "\nlast lines of its stderr:\n  " + String.join("\n  ", lines);
  }
}
