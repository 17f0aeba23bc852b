package io.snakepit;

import java.util.List;

/**
 * The worker serving the call died during it. The pool replaces the worker; the call is retried elsewhere only if
 * the caller marked it idempotent.
 */
public final class WorkerCrashedException extends SnakepitException {
  private static final long serialVersionUID = 1L;

  /** How the worker died. */
  public enum Reason {
    /** It exited with a non-zero code (or zero, in the middle of a call). */
    EXITED,
    /** SIGKILL: someone killed it, or the kernel's OOM killer did (outside a memory limit of its own). */
    KILLED,
    /** SIGSEGV or SIGBUS: a native crash. */
    SEGFAULT,
    /** SIGABRT: an abort, typically a failed assertion in native code. */
    ABORTED,
    /** Another signal. */
    SIGNALED,
    /** Its shim died too, so the real wait status is unknown. */
    LOST,
    /** It reached its cgroup's memory limit (isolation.limits.memory): the kernel's OOM killer ended it. */
    MEMORY_LIMIT,
    /** It reached its cgroup's pids limit (isolation.limits.pids) and was killed. */
    PIDS_LIMIT
  }

  private final String exitStatus;
  private final Reason reason;
  private final List<String> stderrTail;

  public WorkerCrashedException(String workerId, String exitStatus, Reason reason, List<String> stderrTail) {
    super("worker " + workerId + " crashed during the call: " + exitStatus + tail(stderrTail));
    this.exitStatus = exitStatus;
    this.reason = reason;
    this.stderrTail = List.copyOf(stderrTail);
  }

  /** The class of death, for code that reacts to it. */
  public Reason reason() {
    return reason;
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
