package io.snakepit.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PingRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code snakepit load}: puts load on a running node through its gateway and reports what it measured. */
@Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Put load on a running node: call TOOL over and over through its gateway, then print the throughput, the"
            + " errors by type and the latency percentiles.%n",
        "Closed loop (the default): --concurrency callers, each making its next call as soon as its last one ends.%n",
        "Open loop (--rate): calls fall due at fixed intervals whatever the node does, with at most --concurrency"
            + " in flight. A call that falls due while all of them are in flight waits for a free slot, and its"
            + " latency still counts from when it fell due: a node that stalls shows in the percentiles instead of"
            + " slowing the load down (no coordinated omission). With --duration, every call that falls due before"
            + " the end is made, so the run outlasts --duration when the node falls behind.%n",
        "Latency covers every call, failed ones included; throughput counts every call that ended. Errors are"
            + " grouped by type: the Python exception's (ValueError), Snakepit's own (snakepit.UnknownTool), or"
            + " grpc.CODE when the gRPC call itself failed (grpc.DEADLINE_EXCEEDED).%n",
        "A progress line goes to stderr once a second; the result goes to stdout, with --json as one object:"
            + " tool, concurrency, rate (null for a closed loop), requests, seconds, throughput, ok,"
            + " errors {type: count}, latency_ms {p50, p90, p99, p99.9, max, mean}, sent (calls sent, the same"
            + " number as requests once every call has ended: a call never answered would keep the run from"
            + " ending until its --timeout), and warmup {requests, seconds}"
            + " when one ran.%n",
        "A warm-up (--warmup, 5 s unless told) makes the same calls first and leaves them out of every figure, so"
            + " that a short run measures the node rather than its JIT compiler; one line of the result says what it"
            + " made.%n",
        "Every call carries the node's gateway token, read from --token-file, else --data-dir, else SNAKEPIT_TOKEN,"
            + " else data/.%n",
        "Exit 0 when the run was made, even if calls failed; 1 when the node cannot be reached or refuses the"
            + " token; 2 for bad flags."},
    footer = {"", "Examples:",
        "  ./snakepit load ping --concurrency 8 --duration 30s --json",
        "  ./snakepit load sleep '{\"seconds\": 0.2}' --rate 20/s --duration 10s --concurrency 4"})
final class LoadCommand implements Callable<Integer> {
  private static final Duration REACH_TIMEOUT = Duration.ofSeconds(5);

  @Mixin
  ToolCall call;

  @Mixin
  GatewayClient gateway;

  @Option(names = "--concurrency", paramLabel = "C", required = true,
      description = "The most calls in flight at once; in a closed loop, the number of callers.")
  int concurrency;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Amount amount;

  /** How much load: a number of calls or a length of time, never both. */
  static final class Amount {
    @Option(names = "--requests", paramLabel = "N", required = true, description = "Make N calls.")
    Long requests;

    @Option(names = "--duration", paramLabel = "TIME", required = true, converter = DurationConverter.class,
        description = "Start calls (open loop: schedule them) for this long: 30s, 500ms, 2m, 1h; a bare number"
            + " is seconds.")
    Duration duration;
  }

  @Option(names = "--rate", paramLabel = "R/s", converter = RateConverter.class,
      description = "Run an open loop at R calls per second (500/s, or 500; fractions too: 0.5/s).")
  Double rate;

  @Option(names = "--warmup", paramLabel = "TIME", defaultValue = "5s", converter = WarmupConverter.class,
      description = "Make calls this long first, as the run would, and leave them out of every figure: 5s (the"
          + " default), 500ms, 1m; 0 for none.")
  Duration warmup;

  @Mixin
  JsonOutput output;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    LoadRun.Plan plan = plan();
    GatewayClient.Token token = gateway.token(System.getenv(), System.err);
    ManagedChannel channel = call.inSession(call.traced(gateway.channel(token)))
        // Callbacks only count and release a permit: running them on the transport's threads saves a hand-off.
        .directExecutor()
        .maxInboundMessageSize(Integer.MAX_VALUE) // the node bounds each result by its pool's max-message-size
        .build();
    try {
      String unreachable = reach(channel, token);
      if (unreachable != null) {
        System.err.println("error: " + unreachable);
        return 1;
      }
      GatewayGrpc.GatewayFutureStub stub = GatewayGrpc.newFutureStub(channel);
      LoadResult.Warmup warm = null;
      if (!warmup.isZero()) {
        System.err.printf(Locale.ROOT, "load: warming up for %s; its calls count in no figure%n", text(warmup));
        warm = new LoadRun(plan.warmup(warmup)).warmUp(stub);
      }
      LoadResult result = new LoadRun(plan).run(stub, System.err);
      if (warm != null) {
        result = result.after(warm);
      }
      output.print(result.json(), result.lines());
      return 0;
    } finally {
      channel.shutdown();
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    }
  }

  /** The flags as a plan, or a {@link ParameterException} (exit 2) naming the flag that is wrong. */
  private LoadRun.Plan plan() {
    if (concurrency < 1) {
      throw usage("--concurrency must be at least 1, not " + concurrency);
    }
    if (amount.requests != null && amount.requests < 1) {
      throw usage("--requests must be at least 1, not " + amount.requests);
    }
    if (call.timeoutSeconds < 1) {
      throw usage("--timeout must be at least 1 second, not " + call.timeoutSeconds);
    }
    String json;
    try {
      json = call.argsJson();
    } catch (IOException e) {
      throw usage(e.getMessage());
    }
    try {
      JsonNode parsed = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(json);
      if (parsed == null || !parsed.isObject()) {
        throw usage("the JSON argument must be an object of keyword arguments, such as '{\"seconds\": 0.2}',"
            + " not " + call.args);
      }
    } catch (JsonProcessingException e) {
      throw usage("the JSON argument is not valid JSON (" + e.getOriginalMessage() + "): " + call.args
          + ". Quote it for the shell, e.g. '{\"seconds\": 0.2}'");
    }
    ExecuteRequest request;
    try {
      request = call.request();
    } catch (IOException e) {
      throw usage(e.getMessage());
    }
    return new LoadRun.Plan(request, concurrency, rate, amount.requests == null ? 0 : amount.requests,
        amount.duration, call.timeout());
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /**
   * Pings the gateway once, which also opens the connection before anything is measured; returns why the node
   * cannot be used, or null when it answered.
   */
  private String reach(ManagedChannel channel, GatewayClient.Token token) {
    try {
      GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(REACH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
          .ping(PingRequest.getDefaultInstance());
      return null;
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      if (status.getCode() == Status.Code.UNAUTHENTICATED) {
        return "the node at " + gateway.target + " refused the call: " + GatewayClient.describe(status, token);
      }
      if (status.getCode() == Status.Code.UNIMPLEMENTED) {
        return gateway.target + " answers gRPC but is not a snakepit node's gateway (" + describe(status)
            + "). Point --target at the HOST:PORT a node's ./snakepit serve --listen uses";
      }
      return "cannot reach a node at " + gateway.target + " (" + describe(status) + "). Start one with ./snakepit serve,"
          + " or pass --target HOST:PORT of a running one";
    }
  }

  private static String describe(Status status) {
    String text = status.getCode().toString();
    if (status.getDescription() != null) {
      text += ": " + status.getDescription();
    }
    if (status.getCause() != null && status.getCause().getMessage() != null) {
      text += ": " + status.getCause().getMessage();
    }
    return text;
  }

  /** {@code 30s}, {@code 500ms}, {@code 2m}, {@code 1h}, or a bare number of seconds; more than zero. */
  static final class DurationConverter implements ITypeConverter<Duration> {
    private static final Pattern FORM = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");

    @Override
    public Duration convert(String value) {
      Matcher m = FORM.matcher(value.trim());
      if (!m.matches()) {
        throw new TypeConversionException("'" + value + "' is not a duration: use 30s, 500ms, 2m or 1h");
      }
      double amount = Double.parseDouble(m.group(1));
      String unit = m.group(2) == null ? "s" : m.group(2);
      double seconds = switch (unit) {
        case "ms" -> amount / 1000;
        case "m" -> amount * 60;
        case "h" -> amount * 3600;
        default -> amount;
      };
      Duration duration = Duration.ofNanos(Math.round(seconds * 1e9));
      if (duration.isZero()) {
        throw new TypeConversionException("'" + value + "' is no time at all: give a duration above zero, e.g. 30s");
      }
      return duration;
    }
  }

  /** A duration as a person wrote it: 5 s, 500 ms. */
  private static String text(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  /** As {@link DurationConverter}, and zero too: {@code --warmup 0} turns the warm-up off. */
  static final class WarmupConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      if (value.trim().matches("0+(\\.0+)?(ms|s|m|h)?")) {
        return Duration.ZERO;
      }
      return new DurationConverter().convert(value);
    }
  }

  /** {@code 500/s} or {@code 500}: calls per second, more than zero. */
  static final class RateConverter implements ITypeConverter<Double> {
    @Override
    public Double convert(String value) {
      String number = value.trim();
      if (number.endsWith("/s")) {
        number = number.substring(0, number.length() - 2);
      }
      double rate;
      try {
        rate = Double.parseDouble(number);
      } catch (NumberFormatException e) {
        throw new TypeConversionException("'" + value + "' is not a rate: give calls per second, e.g. 500/s or 500");
      }
      if (!(rate > 0) || Double.isInfinite(rate)) {
        throw new TypeConversionException("'" + value + "' is not a rate above zero: give calls per second, e.g."
            + " 500/s");
      }
      return rate;
    }
  }
}
