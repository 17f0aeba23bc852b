package io.snakepit.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.snakepit.actors.AuditLog;
import io.snakepit.persistence.Registry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit audit}: prints a node's audit log, oldest line first. */
@Command(name = "audit", mixinStandardHelpOptions = true,
    description = "Print a node's audit log (DATA-DIR/audit/INSTANCE.jsonl and its rotated files), oldest first:"
        + " one line per event with its time, event, pool/worker, pids and reason or status."
        + " Exit 0 when it was read, 1 when there is no log or it cannot be read, 2 on a bad flag.")
final class AuditCommand implements Callable<Integer> {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Pattern DURATION = Pattern.compile("(\\d+)(s|m|h|d)");
  /** Shown in the column after the event; every other field follows as key=value. */
  private static final Set<String> HEADER = Set.of("time", "event", "instance", "pool", "worker");

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "The node's state directory, as given to serve (default: snakepit.data-dir of application.conf"
          + " or -D, else data, in the working directory).")
  Path dataDir;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "The node's name on the host (default: snakepit.instance, \"default\").")
  String instance;

  @Option(names = "--since", paramLabel = "TIME",
      description = "Only events from this long ago (10m, 2h, 30s, 1d) or from this ISO-8601 time on"
          + " (2026-12-02T18:00:00Z).")
  String since;

  @Option(names = "--worker", paramLabel = "ID",
      description = "Only the events of this worker (its id, as pool-slot-generation), and the WorkerReplaced that"
          + " named it as a replacement.")
  String worker;

  @Option(names = "--json", description = "Print the log's lines as they are: one JSON object a line.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Instant from;
    try {
      from = since == null ? Instant.MIN : since(since, Instant.now());
    } catch (IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 2;
    }
    Config config;
    try {
      config = NodeConfig.load(null, dataDir, Path.of("data"), instance, Map.of(), Map.of());
    } catch (ConfigException | IllegalArgumentException e) {
      System.err.println("snakepit: " + e.getMessage());
      return 1;
    }
    String name;
    try {
      name = Registry.instanceName(config.getConfig("snakepit")); // it goes into a path: no '/' or '..'
    } catch (IllegalArgumentException e) {
      System.err.println("snakepit: --instance: " + e.getMessage());
      return 2;
    }
    Path file = AuditLog.file(Path.of(config.getString("snakepit.data-dir")), name);
    List<Path> files = files(file);
    if (files.isEmpty()) {
      System.err.println("snakepit: no audit log of instance '" + name + "': " + file + " does not exist. Give the"
          + " node's --data-dir and --instance as serve had them; a node writes it while snakepit.audit.enabled = on"
          + " (the default)");
      return 1;
    }
    for (Path f : files) {
      List<String> lines;
      try {
        lines = Files.readAllLines(f);
      } catch (IOException e) {
        System.err.println("snakepit: cannot read the audit log " + f + ": " + e + ". Run audit as the user the"
            + " node runs as (the log is 0600)");
        return 1;
      }
      int number = 0;
      for (String line : lines) {
        number++;
        JsonNode event;
        try {
          event = MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
          // A node killed mid-write leaves its last line cut short; the rest of the log is still worth reading.
          System.err.println("snakepit: " + f + " line " + number + " is not JSON, skipped: " + line);
          continue;
        }
        if (event == null || !event.isObject() || !wanted(event, from)) {
          continue;
        }
        System.out.println(json ? line : readable(event));
      }
    }
    return 0;
  }

  /** The log's files, oldest first: the rotated ones from the highest number down, then the current one. */
  static List<Path> files(Path current) {
    List<Path> files = new ArrayList<>();
    int n = 1;
    while (Files.isRegularFile(AuditLog.rotated(current, n))) {
      n++;
    }
    for (int i = n - 1; i >= 1; i--) {
      files.add(AuditLog.rotated(current, i));
    }
    if (Files.isRegularFile(current)) {
      files.add(current);
    }
    return files;
  }

  private boolean wanted(JsonNode event, Instant from) {
    if (from != Instant.MIN) {
      try {
        if (Instant.parse(event.path("time").asText()).isBefore(from)) {
          return false;
        }
      } catch (DateTimeException e) {
        return false;
      }
    }
    return worker == null || worker.equals(event.path("worker").asText(null))
        || worker.equals(event.path("replacement").asText(null));
  }

  /**
   * {@code --since}'s value as an instant: a duration back from {@code now} ({@code 10m}, {@code 2h}, {@code 30s},
   * {@code 1d}) or an ISO-8601 time with an offset.
   *
   * @throws IllegalArgumentException naming the value and the forms it may take
   */
  static Instant since(String value, Instant now) {
    Matcher m = DURATION.matcher(value.trim());
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      Duration back = switch (m.group(2)) {
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
      return now.minus(back);
    }
    try {
      return OffsetDateTime.parse(value.trim()).toInstant();
    } catch (DateTimeException e) {
      throw new IllegalArgumentException("--since '" + value + "' is neither a duration nor a time: give how long"
          + " ago, as 30s, 10m, 2h or 1d, or an ISO-8601 time with its offset, as 2026-12-02T18:00:00Z");
    }
  }

  /** One event as a line: time, event, pool/worker, then its other fields as key=value (pids, reason, status...). */
  static String readable(JsonNode event) {
    StringBuilder line = new StringBuilder();
    line.append(event.path("time").asText()).append("  ");
    line.append(String.format("%-16s", event.path("event").asText())).append(' ');
    String pool = event.path("pool").asText("");
    String who = event.path("worker").asText("");
    line.append(pool.isEmpty() ? who : who.isEmpty() ? pool : pool + "/" + who);
    for (Iterator<Map.Entry<String, JsonNode>> it = event.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (HEADER.contains(field.getKey())) {
        continue;
      }
      JsonNode v = field.getValue();
      String text = v.isTextual() ? v.asText() : v.toString();
      line.append(' ').append(field.getKey()).append('=')
          .append(v.isTextual() && (text.isEmpty() || text.contains(" ")) ? v.toString() : text);
    }
    return line.toString();
  }
}
