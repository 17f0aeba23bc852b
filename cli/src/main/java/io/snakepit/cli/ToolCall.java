package io.snakepit.cli;

import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
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
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The options that name one call, shared by {@code call} and {@code load} (a picocli mixin): the tool, its JSON
 * arguments, the pool and each call's deadline.
 */
final class ToolCall {
  private static final Pattern TRACEPARENT =
      Pattern.compile("[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}");

  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

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

  @Option(names = "--traceparent", paramLabel = "00-TRACE-SPAN-FLAGS",
      description = "A W3C trace context (the traceparent header's value, e.g. 00-<32 hex>-<16 hex>-01): the node's"
          + " span for each call is its child, and the tool reads it as current_call().traceparent's trace.")
  String traceparent;

  @Option(names = "--session", paramLabel = "ID",
      description = "Make every call in session ID (the gateway metadata snakepit-session): the node serves the"
          + " session's calls on one worker, on a cluster through any node's gateway.")
  String session;

  @Option(names = "--affinity", paramLabel = "MODE", converter = AffinityConverter.class,
      description = "How a --session call waits for its worker (snakepit-affinity): strict-queue (the default)"
          + " waits, strict-fail-fast fails with snakepit.SessionBusy while it is busy, hint lets another idle"
          + " worker serve it.")
  String affinity;

  /**
   * The request every call sends.
   *
   * @throws IOException if the arguments' file or standard input cannot be read, naming which
   */
  ExecuteRequest request() throws IOException {
    ExecuteRequest.Builder b = ExecuteRequest.newBuilder().setTool(tool).setArgsJson(argsJson()).setPool(pool);
    if (traceparent != null) {
      b.setTraceparent(traceparent);
    }
    return b.build();
  }

  /** {@code channel}, sending {@code --traceparent} (if given) as every call's {@code traceparent} header. */
  ManagedChannelBuilder<?> traced(ManagedChannelBuilder<?> channel) {
    if (traceparent != null) {
      if (!TRACEPARENT.matcher(traceparent).matches()) {
        throw new ParameterException(spec.commandLine(), "--traceparent " + traceparent + " is not a W3C traceparent:"
            + " write 00-<trace id, 32 lowercase hex>-<parent span id, 16 lowercase hex>-<flags, 2 hex>,"
            + " e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
      }
      Metadata headers = new Metadata();
      headers.put(GatewayTracing.TRACEPARENT, traceparent);
      channel.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    return channel;
  }

  /**
   * {@code channel}, sending {@code --session} (and {@code --affinity}, if given) as every call's
   * {@code snakepit-session} and {@code snakepit-affinity} headers, as the gateway reads them.
   */
  ManagedChannelBuilder<?> inSession(ManagedChannelBuilder<?> channel) {
    if (session == null) {
      if (affinity != null) {
        throw new ParameterException(spec.commandLine(), "--affinity " + affinity + " applies to the calls of a"
            + " session: give --session ID too");
      }
      return channel;
    }
    if (session.isBlank() || !session.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
      throw new ParameterException(spec.commandLine(), "--session '" + session + "' is not a session id: give"
          + " printable ASCII without spaces, e.g. --session user-42");
    }
    Metadata headers = new Metadata();
    headers.put(GatewaySession.SESSION, session);
    if (affinity != null) {
      headers.put(GatewaySession.AFFINITY, affinity);
    }
    return channel.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** {@code --affinity}: one of the names the gateway reads from {@code snakepit-affinity}. */
  static final class AffinityConverter implements CommandLine.ITypeConverter<String> {
    static final List<String> NAMES = List.of("strict-queue", "strict-fail-fast", "hint");

    @Override
    public String convert(String value) {
      if (!NAMES.contains(value)) {
        throw new CommandLine.TypeConversionException("'" + value + "' is not an affinity: give one of "
            + String.join(", ", NAMES));
      }
      return value;
    }
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
