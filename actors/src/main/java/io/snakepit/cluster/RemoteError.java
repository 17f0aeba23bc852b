package io.snakepit.cluster;

import io.snakepit.CallTimeoutException;
import io.snakepit.CircuitOpenException;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.JournalUnavailableException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.NodeLostException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.PythonException;
import io.snakepit.QueueTimeoutException;
import io.snakepit.SessionBusyException;
import io.snakepit.SnakepitException;
import io.snakepit.UnknownToolException;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.WorkerStartException;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;

/**
 * A call's failure on the node that served it, as it travels back to the caller's node: the error's kind and
 * message, and the fields its type carries (a Python exception's type and traceback, a crash's exit status). It
 * exists so that the caller sees the same typed {@link SnakepitException} a local call would give.
 *
 * @param kind {@link SnakepitException#kind()}, or {@code InternalError} for anything else
 * @param message the error's message
 * @param pythonType a Python exception's type, else empty
 * @param pythonMessage a Python exception's message, else empty
 * @param traceback a Python exception's traceback, else empty
 * @param tool the unknown tool's name, else empty
 * @param available the tools an unknown tool's worker has, else empty
 * @param exitStatus a crashed worker's exit status, else empty
 * @param reason a crashed worker's reason, else empty
 * @param stderrTail a crashed or failed worker's last stderr lines, else empty
 */
public record RemoteError(String kind, String message, String pythonType, String pythonMessage, String traceback,
    String tool, List<String> available, String exitStatus, String reason, List<String> stderrTail) {

  public RemoteError {
    available = available == null ? List.of() : List.copyOf(available);
    stderrTail = stderrTail == null ? List.of() : List.copyOf(stderrTail);
  }

  /** The failure {@code error} (a {@link CompletionException}'s cause, if wrapped), ready to travel. */
  public static RemoteError of(Throwable error) {
    Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (e instanceof PythonException py) {
      return new RemoteError(py.kind(), py.getMessage(), py.pythonType(), py.pythonMessage(), py.traceback(), "",
          List.of(), "", "", List.of());
    }
    if (e instanceof UnknownToolException u) {
      return new RemoteError(u.kind(), u.getMessage(), "", "", "", u.tool(), u.available(), "", "", List.of());
    }
    if (e instanceof WorkerCrashedException c) {
      return new RemoteError(c.kind(), c.getMessage(), "", "", "", "", List.of(), c.exitStatus(), c.reason().name(),
          c.stderrTail());
    }
    if (e instanceof WorkerStartException s) {
      return new RemoteError(s.kind(), s.getMessage(), "", "", "", "", List.of(), "", "", s.stderrTail());
    }
    if (e instanceof SnakepitException s) {
      return new RemoteError(s.kind(), s.getMessage(), "", "", "", "", List.of(), "", "", List.of());
    }
    if (e instanceof CancellationException) {
      return new RemoteError("Cancelled", "the call was cancelled on the node that served it", "", "", "", "",
          List.of(), "", "", List.of());
    }
    return new RemoteError("InternalError", String.valueOf(e), "", "", "", "", List.of(), "", "", List.of());
  }

  /** The exception a local call would have failed with; {@code node} names the node that served the call. */
  public RuntimeException toException(String node) {
    return switch (kind) {
      case "PythonException" -> PythonException.of(pythonType, pythonMessage, traceback);
      case "UnknownTool" -> new UnknownToolException(tool, available, message);
      case "WorkerCrashed" -> new WorkerCrashedException(workerId(node), exitStatus, crashReason(), stderrTail);
      case "WorkerStart" -> new WorkerStartException(message, stderrTail);
      case "InvalidArguments" -> new InvalidArgumentsException(message);
      case "MessageTooLarge" -> new MessageTooLargeException(message);
      case "PoolSaturated" -> new PoolSaturatedException(message);
      case "PoolUnavailable" -> new PoolUnavailableException(message, null);
      case "CallTimeout" -> new CallTimeoutException(message);
      case "QueueTimeout" -> new QueueTimeoutException(message);
      case "CircuitOpen" -> new CircuitOpenException(message);
      case "JournalUnavailable" -> new JournalUnavailableException(message);
      case "SessionBusy" -> new SessionBusyException(message);
      case "WorkerCall" -> new WorkerCallException(message, null);
      case "NodeLost" -> new NodeLostException(node, message);
      case "Cancelled" -> new CancellationException(message);
      default -> new SnakepitException(message + " (on node " + node + ")");
    };
  }

  /** The crashed worker's id as its message names it ("worker ID crashed during the call: ..."), on {@code node}. */
  private String workerId(String node) {
    String prefix = "worker ";
    int end = message.indexOf(" crashed during the call");
    String id = message.startsWith(prefix) && end > prefix.length() ? message.substring(prefix.length(), end) : "?";
    return id + " of node " + node;
  }

  private WorkerCrashedException.Reason crashReason() {
    try {
      return WorkerCrashedException.Reason.valueOf(reason);
    } catch (IllegalArgumentException e) {
      return WorkerCrashedException.Reason.LOST;
    }
  }
}
