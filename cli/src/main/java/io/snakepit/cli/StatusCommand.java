package io.snakepit.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.StatusRequest;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code snakepit status}: a running node's pools and workers, through its gateway. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show a running node's pools and workers: per pool its size, queue and circuit; per worker its"
        + " Python pid, state, calls, resident memory, CPU use, health score (0 to 1), uptime and how its slot's"
        + " previous worker ended. --json prints what the HTTP endpoint's /status serves. The gateway token is read"
        + " as by call.",
    footer = {"", "Errors go to stderr as one line, as call writes them: error: snakepit.Unreachable: ...,"
        + " snakepit.Unauthenticated: ..., ...",
        "", "Exit status: 0 the status was shown; 1 the node refused (a wrong token...); 2 no node could be reached at"
        + " --target, or bad flags."})
final class StatusCommand implements Callable<Integer> {

  @Mixin
  GatewayClient gateway;

  @Option(names = "--json", description = "Print the status as one JSON object, as /status serves it.")
  boolean json;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "10",
      description = "How long to wait for the node's answer (default ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  public Integer call() throws JsonProcessingException {
    GatewayClient.Token token = gateway.token(System.getenv(), System.err);
    ManagedChannel channel = gateway.channel(token).maxInboundMessageSize(64 << 20).build();
    String answer;
    try {
      answer = GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance()).getJson();
    } catch (StatusRuntimeException e) {
      CallFailure failure = failure(e.getStatus(), token);
      System.err.println("error: " + failure.text());
      return failure.exit();
    } finally {
      channel.shutdownNow();
    }
    ObjectMapper mapper = new ObjectMapper();
    JsonNode status = mapper.readTree(answer);
    if (json) {
      System.out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(status));
    } else {
      render(status).forEach(System.out::println);
    }
    return 0;
  }

  /** How a status request that failed is reported: as {@code call} reports its failures, but for a status. */
  private CallFailure failure(io.grpc.Status status, GatewayClient.Token token) {
    return switch (status.getCode()) {
      case DEADLINE_EXCEEDED -> new CallFailure("snakepit.StatusTimeout: the node at " + gateway.target + " gave no"
          + " status within --timeout " + timeoutSeconds + " s. Raise --timeout SECONDS", 1);
      case UNIMPLEMENTED -> new CallFailure("snakepit.NotAGateway: " + gateway.target + " answers gRPC but serves"
          + " no status: it is not a snakepit node's gateway, or one older than the status command", 1);
      default -> CallFailure.of(status, token, gateway.target, "status", timeoutSeconds);
    };
  }

  /**
   * The status as lines: per pool a header, then a table of its workers, then why any worker is unwell. A clustered
   * node's status ({@code nodes}) is one such section per node, its header naming the node's instance and cluster
   * address, and a line for each node that did not answer.
   */
  static List<String> render(JsonNode status) {
    List<String> lines = new ArrayList<>();
    if (!status.has("nodes")) {
      Instant now = Instant.parse(status.path("time").asText(Instant.now().toString()));
      lines.add("node " + status.path("instance").asText() + " at " + now.truncatedTo(ChronoUnit.SECONDS));
      pools(status, now, lines);
      return lines;
    }
    JsonNode nodes = status.path("nodes");
    long unreachable = 0;
    for (JsonNode n : nodes) {
      unreachable += n.path("reachable").asBoolean() ? 0 : 1;
    }
    lines.add("cluster of " + nodes.size() + (nodes.size() == 1 ? " node" : " nodes") + ", asked from "
        + status.path("instance").asText() + (unreachable == 0 ? "" : ", " + unreachable + " unreachable"));
    for (JsonNode n : nodes) {
      lines.add("");
      if (!n.path("reachable").asBoolean()) {
        lines.add("node " + n.path("address").asText() + ": unreachable: " + n.path("error").asText());
        continue;
      }
      Instant now = Instant.parse(n.path("time").asText(Instant.now().toString()));
      lines.add("node " + n.path("instance").asText() + " (" + n.path("address").asText() + ")"
          + (n.path("self").asBoolean() ? ", this node," : "") + " at " + now.truncatedTo(ChronoUnit.SECONDS));
      pools(n, now, lines);
    }
    return lines;
  }

  /** One node's pools, as lines. */
  private static void pools(JsonNode status, Instant now, List<String> lines) {
    for (JsonNode pool : status.path("pools")) {
      lines.add("");
      JsonNode workers = pool.path("workers");
      lines.add(String.format(Locale.ROOT, "pool %s: size %d%s, %d queued, circuit %s%s", pool.path("name").asText(),
          pool.path("size").asInt(), pool.path("spares").asInt() > 0 ? " + " + pool.path("spares").asInt()
              + " spares" : "", pool.path("queued").asInt(), pool.path("circuitOpen").asBoolean() ? "OPEN" : "closed",
          pool.path("lowestHealth").isNumber() ? String.format(Locale.ROOT, ", lowest health %.2f",
              pool.path("lowestHealth").asDouble()) : ""));
      if (workers.isEmpty()) {
        lines.add("  no live worker");
        continue;
      }
      String row = "  %-22s %7s %-9s %7s %7s %8s %6s %7s %8s  %s";
      lines.add(String.format(Locale.ROOT, row, "WORKER", "PID", "STATE", "CALLS", "FAILED", "RSS MiB", "CPU %",
          "HEALTH", "UPTIME", "LAST EXIT"));
      List<String> notes = new ArrayList<>();
      for (JsonNode w : workers) {
        JsonNode health = w.path("health");
        lines.add(String.format(Locale.ROOT, row, w.path("id").asText(), w.path("pid").asInt() > 0
                ? w.path("pid").asText() : "-", w.path("state").asText(), w.path("calls").asText(),
            w.path("failed").asText(), String.format(Locale.ROOT, "%.1f", w.path("rssBytes").asLong() / 1048576.0),
            String.format(Locale.ROOT, "%.1f", w.path("cpuPercent").asDouble()),
            health.isNumber() ? String.format(Locale.ROOT, "%.2f", health.asDouble()) : "-",
            duration(w.path("uptimeSeconds").asDouble()), lastExit(w.path("lastExit"), now)));
        if (health.isNumber() && health.asDouble() < 0.8 && !w.path("healthWhy").asText().isEmpty()) {
          notes.add("  " + w.path("id").asText() + ": health " + String.format(Locale.ROOT, "%.2f", health.asDouble())
              + ": " + w.path("healthWhy").asText());
        }
      }
      lines.addAll(notes);
    }
  }

  /** How a slot's previous worker ended: {@code default-0-1 killed 12s ago (killed by signal 9 (SIGKILL))}. */
  private static String lastExit(JsonNode exit, Instant now) {
    if (exit == null || exit.isNull() || exit.isMissingNode()) {
      return "-";
    }
    String ago = "";
    try {
      ago = " " + duration(Duration.between(Instant.parse(exit.path("time").asText()), now).toMillis() / 1000.0)
          + " ago";
    } catch (RuntimeException e) {
      // no time: leave it out
    }
    String status = exit.path("status").asText();
    return exit.path("worker").asText() + " " + exit.path("reason").asText() + ago
        + (status.isEmpty() ? "" : " (" + status + ")");
  }

  /** 42s, 5m12s, 3h04m, 2d03h. */
  static String duration(double seconds) {
    long s = Math.max(0, Math.round(seconds));
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    if (s < 86400) {
      return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
    }
    return String.format(Locale.ROOT, "%dd%02dh", s / 86400, s % 86400 / 3600);
  }
}
