package io.snakepit.cli;

import io.snakepit.proto.ExecuteRequest;
import java.time.Duration;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The options that name one call, shared by {@code call} and {@code load} (a picocli mixin): the tool, its JSON
 * arguments, the pool and each call's deadline.
 */
final class ToolCall {

  @Parameters(index = "0", paramLabel = "TOOL", description = "The tool's name.")
  String tool;

  @Parameters(index = "1", paramLabel = "JSON", arity = "0..1", defaultValue = "{}",
      description = "Keyword arguments as a JSON object, the same for every call (default: {}).")
  String args;

  @Option(names = "--pool", paramLabel = "NAME", defaultValue = "default",
      description = "The pool to call (default: ${DEFAULT-VALUE}).")
  String pool;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "Each call's deadline, from when it is sent (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  /** The request every call sends. */
  ExecuteRequest request() {
    return ExecuteRequest.newBuilder().setTool(tool).setArgsJson(args).setPool(pool).build();
  }

  /** Each call's deadline. */
  Duration timeout() {
    return Duration.ofSeconds(timeoutSeconds);
  }
}
