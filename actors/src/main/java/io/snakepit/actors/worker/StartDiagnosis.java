package io.snakepit.actors.worker;

import io.snakepit.WorkerCrashedException;
import io.snakepit.WorkerStartException;
import io.snakepit.shim.ExitStatus;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.Signals;
import java.util.List;

/**
 * What a worker's start and end are explained with: the last lines of its stderr, and what went wrong before it was
 * ready (exec failed, the start timeout, a journal failure). Builds the {@link WorkerStartException}. Used on the
 * actor's thread; only its {@link StderrTail} is shared (with the thread that reads the worker's output).
 */
final class StartDiagnosis {
  private final String workerId;
  private final WorkerSettings settings;
  private final StderrTail tail;
  private ShimEvent.ExecFailed execFailed;
  private String journalFailure;
  private boolean timedOut;

  /** With a tail of its own. */
  StartDiagnosis(String workerId, WorkerSettings settings) {
    this(workerId, settings, new StderrTail(settings.stderrTail()));
  }

  /** With {@code tail}, which the worker's {@link WorkerOutput} fills with stderr on its own thread. */
  StartDiagnosis(String workerId, WorkerSettings settings, StderrTail tail) {
    this.workerId = workerId;
    this.settings = settings;
    this.tail = tail;
  }

  /** Keeps a line of the node's own about the worker in the stderr tail, dropping the oldest past {@code stderr-tail}. */
  void stderr(String line) {
    tail.add(line);
  }

  /** The kept stderr lines, oldest first. */
  List<String> tail() {
    return tail.lines();
  }

  /** The shim could not execute Python. */
  void execFailed(ShimEvent.ExecFailed failed) {
    execFailed = failed;
  }

  /** The worker's identity could not be journaled; returns the message (it is killed). */
  String journalFailed(Throwable error) {
    journalFailure = "cannot journal the identity of worker " + workerId + ": " + error.getMessage()
        + ". Check the registry's database (snakepit.registry.db)";
    return journalFailure;
  }

  /** The start timeout passed (it is killed). */
  void timedOut() {
    timedOut = true;
  }

  /** Why the worker never became ready, given how its process ended. */
  WorkerStartException error(String exitStatus) {
    String python = settings.python();
    List<String> lines = tail();
    if (journalFailure != null) {
      return new WorkerStartException(journalFailure, lines);
    }
    if (execFailed != null) {
      return new WorkerStartException("cannot start Python '" + python + "': " + execFailed.message() + " (errno "
          + execFailed.errno() + "). Set the pool's python (snakepit.pools.<name>.python) to a Python 3.9 or newer"
          + " with grpcio and protobuf installed", lines);
    }
    if (timedOut) {
      return new WorkerStartException("worker " + workerId + " did not become ready within "
          + settings.startTimeout().toMillis() + " ms (snakepit.pools.<name>.start-timeout); its process"
          + " group was killed. Check the adapter's setup() and imports for what blocks", lines);
    }
    String hint = lines.stream().anyMatch(l -> l.contains("No module named 'grpc'")
        || l.contains("No module named 'google'"))
        ? ". This Python lacks grpcio or protobuf: install them with '" + python + " -m pip install grpcio protobuf'"
        : lines.stream().anyMatch(l -> l.contains("cannot load adapter"))
        ? ". The adapter '" + settings.adapter() + "' failed to import: see the traceback below"
        : "";
    return new WorkerStartException("worker " + workerId + " " + exitStatus + " before it was ready" + hint, lines);
  }

  /** How a worker's end reads as a crash reason. */
  static WorkerCrashedException.Reason crashReason(ExitStatus status) {
    if (!status.signaled()) {
      return WorkerCrashedException.Reason.EXITED;
    }
    return switch (status.signal()) {
      case Signals.SIGKILL -> WorkerCrashedException.Reason.KILLED;
      case Signals.SIGSEGV, Signals.SIGBUS -> WorkerCrashedException.Reason.SEGFAULT;
      case Signals.SIGABRT -> WorkerCrashedException.Reason.ABORTED;
      default -> WorkerCrashedException.Reason.SIGNALED;
    };
  }
}
