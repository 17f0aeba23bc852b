package io.snakepit.actors.worker;

import io.snakepit.InvalidArgumentsException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.SnakepitException;
import io.snakepit.UnknownToolException;
import io.snakepit.WorkerCallException;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.PythonError;
import io.snakepit.proto.Value;

/** Turns what a worker answered into what a caller receives. */
public final class Outcomes {
  /** Error types the worker raises on the caller's behalf, rather than the tool. */
  public static final String UNKNOWN_TOOL = "snakepit.UnknownTool";
  public static final String INVALID_ARGUMENTS = "snakepit.InvalidArguments";
  public static final String MESSAGE_TOO_LARGE = "snakepit.MessageTooLarge";

  private Outcomes() {}

  /** A tool's value as a {@link Result}. */
  public static Result toResult(Value value) {
    return value.getKindCase() == Value.KindCase.RAW
        ? Result.ofBytes(value.getRaw().toByteArray())
        : Result.ofJson(value.getJson());
  }

  /** A worker's error payload as the matching typed exception. */
  public static SnakepitException toException(String tool, PythonError error) {
    return switch (error.getType()) {
      case UNKNOWN_TOOL -> new UnknownToolException(tool, error.getAvailableToolsList(), error.getMessage());
      case INVALID_ARGUMENTS -> new InvalidArgumentsException(error.getMessage());
      case MESSAGE_TOO_LARGE -> new MessageTooLargeException(error.getMessage());
      default -> PythonException.of(error.getType(), error.getMessage(), error.getTraceback());
    };
  }

  /** Completes {@code job}'s stage with the worker's last response: its error, its result, or a stream's end. */
  static void complete(Job job, ExecuteResponse last) {
    String tool = job.request().getTool();
    if (last != null && last.hasError()) {
      job.fail(toException(tool, last.getError()));
    } else if (job instanceof Job.Unary unary) {
      if (last == null || !last.hasValue()) {
        unary.promise().completeExceptionally(new WorkerCallException("worker returned no result for " + tool, null));
      } else {
        unary.promise().complete(toResult(last.getValue()));
      }
    } else if (job instanceof Job.Stream stream) {
      stream.promise().complete(null);
    }
  }
}
