package io.snakepit.cli;

import akka.actor.typed.ActorSystem;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What the HTTP endpoint's dashboard needs of the node beyond {@code /status}: the charts' history
 * ({@link CallHistory}, sampled on the actor system's scheduler) and the recent events ({@link RecentEvents}), both fed
 * through the node's {@link Events.Taps} from its start; and the page itself, whose files are read once from the jar.
 */
final class Dashboard {
  /** The page's files by path: the HTML shell, its script and its style sheet (no data in any of them). */
  static final Map<String, Asset> ASSETS = Map.of(
      "/", new Asset("index.html", "text/html; charset=utf-8"),
      "/dashboard.js", new Asset("dashboard.js", "text/javascript; charset=utf-8"),
      "/dashboard.css", new Asset("dashboard.css", "text/css; charset=utf-8"));

  /** One of the page's files: its name among the resources and its type. */
  record Asset(String name, String type) {
    /** Its bytes, from {@code io/snakepit/cli/dashboard/} in the jar. */
    byte[] read() {
      try (InputStream in = Dashboard.class.getResourceAsStream("dashboard/" + name)) {
        if (in == null) {
          throw new IllegalStateException("the dashboard's " + name + " is missing from the jar: rebuild it");
        }
        return in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the dashboard's " + name + " from the jar", e);
      }
    }
  }

  /**
   * {@code snakepit.http.dashboard}: one sample every {@code sampleInterval}, {@code history} of them kept, and the
   * last {@code events} events.
   */
  record Settings(Duration sampleInterval, Duration history, int events) {
    /** Reads and checks the block; the message names the setting, its value and what it takes. */
    static Settings of(Config config) {
      Config c = config.getConfig("snakepit.http.dashboard");
      Duration interval = c.getDuration("sample-interval");
      Duration history = c.getDuration("history");
      int events = c.getInt("events");
      if (interval.compareTo(Duration.ofMillis(100)) < 0) {
        throw new ConfigException.BadValue("snakepit.http.dashboard.sample-interval", "it is "
            + c.getValue("sample-interval").unwrapped() + ": give 100ms or more (for example 5s)");
      }
      if (history.compareTo(interval) < 0 || history.dividedBy(interval) > 100_000) {
        throw new ConfigException.BadValue("snakepit.http.dashboard.history", "it is "
            + c.getValue("history").unwrapped() + " at one sample every " + c.getValue("sample-interval").unwrapped()
            + ": give at least one interval and at most 100000 intervals (for example 15m)");
      }
      if (events < 1 || events > 100_000) {
        throw new ConfigException.BadValue("snakepit.http.dashboard.events", "it is " + events
            + ": give 1 to 100000 (for example 200)");
      }
      return new Settings(interval, history, events);
    }
  }

  private final ObjectMapper mapper = new ObjectMapper();
  private final String instance;
  private final Settings settings;
  private final CallHistory history;
  private final RecentEvents events;

  private Dashboard(String instance, Settings settings, CallHistory history, RecentEvents events) {
    this.instance = instance;
    this.settings = settings;
    this.history = history;
    this.events = events;
  }

  /**
   * Starts keeping the history and events of {@code system}'s node. Call it before the node starts (the first
   * {@code Snakepit.get(system)}), so that the events of its start are kept; the sampling stops with the system.
   */
  static Dashboard bind(ActorSystem<?> system, Settings settings) {
    Config snakepit = system.settings().config().getConfig("snakepit");
    List<String> pools = snakepit.getObject("pools").entrySet().stream()
        .filter(e -> e.getValue().valueType() != ConfigValueType.NULL).map(Map.Entry::getKey).sorted().toList();
    CallHistory history = new CallHistory(pools,
        CallHistory.capacity(settings.history(), settings.sampleInterval()), System.nanoTime());
    RecentEvents events = new RecentEvents(settings.events());
    Events.Taps.of(system).add(event -> {
      if (event instanceof SnakepitEvent.CallEnded e) {
        history.record(e);
      } else {
        events.record(event);
      }
    });
    system.scheduler().scheduleAtFixedRate(settings.sampleInterval(), settings.sampleInterval(),
        () -> history.sample(Instant.now(), System.nanoTime()), system.executionContext());
    return new Dashboard(snakepit.getString("instance"), settings, history, events);
  }

  /** {@code /api/history}'s body (docs/OPERATIONS.md). */
  String historyJson() {
    ObjectNode body = mapper.createObjectNode().put("instance", instance).put("time", Instant.now().toString())
        .put("intervalSeconds", settings.sampleInterval().toMillis() / 1000.0)
        .put("historySeconds", settings.history().toSeconds());
    body.setAll(history.json(mapper));
    return body.toString();
  }

  /** {@code /api/events}'s body (docs/OPERATIONS.md). */
  String eventsJson() {
    ObjectNode body = mapper.createObjectNode().put("instance", instance).put("time", Instant.now().toString());
    body.setAll(events.json(mapper));
    return body.toString();
  }
}
