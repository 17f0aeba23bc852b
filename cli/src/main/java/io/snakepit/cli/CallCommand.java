package io.snakepit.cli;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PythonError;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Iterator;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code snakepit call}: calls a tool through a node's gateway and prints the result as JSON. */
@Command(name = "call", mixinStandardHelpOptions = true,
    description = "Call a tool on a running node and print its result as JSON. The call carries the node's gateway"
        + " token, read from --token-file, else --data-dir, else SNAKEPIT_TOKEN, else data/.",
    footer = {"", "Errors go to stderr as one line, error: KIND: message, where KIND is the Python exception's type"
        + " (its traceback follows) or snakepit.<Kind>: snakepit.UnknownTool, snakepit.InvalidArguments (bad JSON,"
        + " an unreadable @FILE), snakepit.CallTimeout (--timeout passed), snakepit.Unreachable,"
        + " snakepit.Unauthenticated, snakepit.UnknownPool, snakepit.WorkerCrashed, ...",
        "", "Exit status: 0 the call succeeded; 1 it failed (any error above but snakepit.Unreachable); 2 no node"
        + " could be reached at --target, or bad flags."})
final class CallCommand implements Callable<Integer> {

  @Mixin
  GatewayClient gateway;

  @Mixin
  ToolCall call;

  @Option(names = "--stream", description = "Call a streaming tool; print one JSON line per item.")
  boolean stream;

  @Override
  public Integer call() throws IOException {
    ExecuteRequest request;
    try {
      request = call.request();
    } catch (IOException e) {
      System.err.println("error: snakepit.InvalidArguments: " + e.getMessage());
      return 1;
    }
    GatewayClient.Token token = gateway.token(System.getenv(), System.err);
    // The node bounds each result by its pool's max-message-size.
    ManagedChannel channel = call.inSession(call.traced(gateway.channel(token)))
        .maxInboundMessageSize(Integer.MAX_VALUE).build();
    try {
      GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(channel)
          .withDeadlineAfter(call.timeoutSeconds, TimeUnit.SECONDS);
      if (stream) {
        Iterator<ExecuteResponse> items = stub.executeStream(request);
        while (items.hasNext()) {
          Integer failed = print(items.next());
          if (failed != null) {
            return failed;
          }
        }
        return 0;
      }
      Integer failed = print(stub.execute(request));
      return failed == null ? 0 : failed;
    } catch (StatusRuntimeException e) {
      CallFailure failure = CallFailure.of(e.getStatus(), token, gateway.target, call.tool, call.timeoutSeconds);
      System.err.println("error: " + failure.text());
      return failure.exit();
    } finally {
      channel.shutdownNow();
    }
  }

  /** Prints a value to stdout, or an error to stderr; returns the exit code for an error, else null. */
  private static Integer print(ExecuteResponse response) throws IOException {
    if (response.hasError()) {
      PythonError e = response.getError();
      PrintStream err = System.err;
      err.println("error: " + e.getType() + ": " + e.getMessage());
      if (!e.getTraceback().isEmpty()) {
        err.print(e.getTraceback());
      }
      return 1;
    }
    if (response.getValue().hasRaw()) {
      System.out.write(response.getValue().getRaw().toByteArray());
      System.out.flush();
    } else {
      System.out.println(response.getValue().getJson());
    }
    return null;
  }
}
