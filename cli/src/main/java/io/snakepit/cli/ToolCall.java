package io.snakepit.cli;

import io.snakepit.proto.ExecuteRequest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
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

  @Parameters(index = "1", paramLabel = "JSON|@FILE|-", arity = "0..1", defaultValue = "{}",
      description = "Keyword arguments as a JSON object, the same for every call (default: {}); @FILE reads them"
          + " from FILE, - from standard input (for arguments past the command line's limit of about 128 KB). A"
          + " JSON argument that starts with @ is written @@ (@@x is the text @x); a JSON object never does.")
  String args;

  /** The arguments' JSON, once read. */
  private String argsJson;

  @Option(names = "--pool", paramLabel = "NAME", defaultValue = "default",
      description = "The pool to call (default: ${DEFAULT-VALUE}).")
  String pool;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "Each call's deadline, from when it is sent (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  /**
   * The request every call sends.
   *
   * @throws IOException if the arguments' file or standard input cannot be read, naming which
   */
  ExecuteRequest request() throws IOException {
    return ExecuteRequest.newBuilder().setTool(tool).setArgsJson(argsJson()).setPool(pool).build();
  }

  /** The arguments' JSON: the JSON argument itself, or what {@code @FILE} or {@code -} holds (read once). */
  String argsJson() throws IOException {
    if (argsJson == null) {
      argsJson = read(args, System.in);
    }
    return argsJson;
  }

  /** What the JSON argument stands for: {@code @@...} is the text {@code @...}, {@code @FILE} a file, {@code -} input. */
  static String read(String arg, InputStream stdin) throws IOException {
    if (arg.startsWith("@@")) {
      return arg.substring(1);
    }
    if (arg.startsWith("@")) {
      Path file = Path.of(arg.substring(1));
      try {
        return Files.readString(file, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IOException("cannot read the arguments from " + arg + " (" + file.toAbsolutePath() + "): "
            + reason(e) + ". Give a readable file of JSON, or the JSON itself (@@ for a leading @)", e);
      }
    }
    if (arg.equals("-")) {
      try {
        return new String(stdin.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IOException("cannot read the arguments from standard input (-): " + reason(e), e);
      }
    }
    return arg;
  }

  private static String reason(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof MalformedInputException) {
      return "it is not UTF-8 text";
    }
    return e.getMessage();
  }

  /** Each call's deadline. */
  Duration timeout() {
    return Duration.ofSeconds(timeoutSeconds);
  }
}
