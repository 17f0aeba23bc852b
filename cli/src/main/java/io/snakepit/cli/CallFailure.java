package io.snakepit.cli;

import io.grpc.Status;
import java.util.regex.Pattern;

/**
 * How {@code call} reports a call that ended with a gRPC status rather than an error payload: as every other error
 * of {@code call} reads, {@code error: snakepit.<Kind>: message}, with nothing of grpc-java's own text (its
 * exception names, deadline internals, netty's syscall names).
 *
 * @param text what to print after {@code error: } (an unauthenticated call adds a line saying why it had no token)
 * @param exit the exit status: 2 when no node could be reached, else 1
 */
record CallFailure(String text, int exit) {
  /** netty's prefix of a failed system call, e.g. {@code finishConnect(..) failed with error(-111): }. */
  private static final Pattern SYSCALL = Pattern.compile("^.*?\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ");

  /**
   * The report of a failed call to {@code tool} at {@code target}, sent with a deadline of {@code timeoutSeconds}.
   */
  static CallFailure of(Status status, GatewayClient.Token token, Object target, String tool, long timeoutSeconds) {
    String said = status.getDescription() == null ? "" : status.getDescription();
    return switch (status.getCode()) {
      case DEADLINE_EXCEEDED -> new CallFailure("snakepit.CallTimeout: tool '" + tool + "' gave no answer within"
          + " --timeout " + timeoutSeconds + " s (the call is cancelled in Python). Raise --timeout SECONDS", 1);
      case UNAVAILABLE -> new CallFailure("snakepit.Unreachable: cannot reach a node at " + target + " ("
          + reason(status) + "). Start one with ./snakepit serve, or point --target at one", 2);
      case UNAUTHENTICATED -> new CallFailure("snakepit.Unauthenticated: " + said + (token.problem() == null ? ""
          : "\nerror: the call went without a token: " + token.problem()), 1);
      case NOT_FOUND -> new CallFailure("snakepit.UnknownPool: " + said, 1);
      case INVALID_ARGUMENT -> new CallFailure("snakepit.InvalidArguments: " + said, 1);
      case RESOURCE_EXHAUSTED -> new CallFailure("snakepit.MessageTooLarge: the node refused the call (" + said
          + "). Send smaller arguments, or raise the pool's max-message-size", 1);
      case UNIMPLEMENTED -> new CallFailure("snakepit.NotAGateway: " + target + " answers gRPC but is not a"
          + " snakepit node's gateway. Point --target at one", 1);
      case CANCELLED -> new CallFailure("snakepit.Cancelled: the call was cancelled" + (said.isEmpty() ? ""
          : " (" + said + ")"), 1);
      default -> new CallFailure("snakepit.GatewayError: the node answered " + status.getCode()
          + (said.isEmpty() ? "" : ": " + said), 1);
    };
  }

  /** Why a node could not be reached, from the innermost cause that says (without netty's syscall prefix). */
  static String reason(Status status) {
    String why = null;
    for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        why = t.getMessage();
      }
    }
    if (why == null) {
      why = status.getDescription() == null ? "no answer" : status.getDescription();
    }
    return SYSCALL.matcher(why).replaceFirst("");
  }
}
