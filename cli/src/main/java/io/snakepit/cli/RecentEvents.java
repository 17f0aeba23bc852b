package io.snakepit.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.AuditLog;
import java.util.ArrayDeque;

/**
 * The dashboard's list of recent events: the last {@code capacity} events of the node but the calls' (two a call,
 * they would push out everything else), kept in memory as they are published, so that the list works with the audit
 * log off too. Each is rendered as the audit log writes its line ({@link AuditLog#json}), only when read.
 */
final class RecentEvents {
  private final int capacity;
  private final ArrayDeque<SnakepitEvent> events = new ArrayDeque<>();
  private long seen;

  RecentEvents(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("a list of recent events keeps at least one, not " + capacity);
    }
    this.capacity = capacity;
  }

  /** Keeps {@code event} (dropping the oldest past the capacity); calls' events are left out. */
  void record(SnakepitEvent event) {
    if (event instanceof SnakepitEvent.CallStarted || event instanceof SnakepitEvent.CallEnded) {
      return;
    }
    synchronized (this) {
      events.addLast(event);
      seen++;
      if (events.size() > capacity) {
        events.removeFirst();
      }
    }
  }

  /**
   * The events kept, newest first, as {@code /api/events} serves them: {@code seen} counts every event kept since the
   * start (so a reader can tell that some scrolled out), {@code events} holds the audit log's lines.
   */
  ObjectNode json(ObjectMapper mapper) {
    SnakepitEvent[] copy;
    long total;
    synchronized (this) {
      copy = events.toArray(SnakepitEvent[]::new);
      total = seen;
    }
    ObjectNode body = mapper.createObjectNode().put("capacity", capacity).put("seen", total);
    ArrayNode list = body.putArray("events");
    for (int i = copy.length - 1; i >= 0; i--) {
      list.add(AuditLog.json(copy[i]));
    }
    return body;
  }
}
