package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.SnakepitEvent;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The dashboard's recent events: newest first, bounded, the calls' left out, lines as the audit log's. */
class RecentEventsTest {
  private static final Instant T0 = Instant.parse("2026-12-03T07:00:00Z");

  @Test
  void theLastEventsAreKeptNewestFirstWithoutTheCalls() throws Exception {
    RecentEvents events = new RecentEvents(3);
    for (int i = 0; i < 5; i++) {
      events.record(new SnakepitEvent.WorkerReserved(T0.plusSeconds(i), "i", "p", "p-0-" + i));
      events.record(new SnakepitEvent.CallStarted(T0, "i", "p", "p-0-" + i, i, "ping", Duration.ZERO));
      events.record(new SnakepitEvent.CallEnded(T0, "i", "p", "p-0-" + i, i, "ping", SnakepitEvent.Outcome.OK,
          Duration.ZERO));
    }
    JsonNode json = new ObjectMapper().readTree(events.json(new ObjectMapper()).toString());
    assertEquals(3, json.get("capacity").asInt());
    assertEquals(5, json.get("seen").asLong());
    assertEquals(3, json.get("events").size());
    assertEquals("p-0-4", json.get("events").get(0).get("worker").asText());
    assertEquals("p-0-2", json.get("events").get(2).get("worker").asText());
  }

  @Test
  void anEventReadsAsItsAuditLogLine() throws Exception {
    RecentEvents events = new RecentEvents(10);
    events.record(new SnakepitEvent.WorkerExited(T0, "i", "p", "p-0-1", 41, 40, "killed",
        "killed by signal 9 (SIGKILL)", false));
    JsonNode line = new ObjectMapper().readTree(events.json(new ObjectMapper()).toString()).get("events").get(0);
    assertEquals("{\"time\":\"2026-12-03T07:00:00Z\",\"event\":\"WorkerExited\",\"instance\":\"i\",\"pool\":\"p\","
        + "\"worker\":\"p-0-1\",\"pid\":41,\"shim_pid\":40,\"reason\":\"killed\","
        + "\"status\":\"killed by signal 9 (SIGKILL)\",\"during_call\":false}", line.toString());
  }
}
