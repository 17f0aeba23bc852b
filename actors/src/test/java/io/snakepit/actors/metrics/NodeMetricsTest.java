package io.snakepit.actors.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.snakepit.SnakepitEvent;
import io.snakepit.SnakepitEvent.Outcome;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The binder on events made up here: states, outcomes, exits, the circuit, settlements and the tool bound. */
class NodeMetricsTest {
  private static final Instant T = Instant.EPOCH;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private NodeMetrics metrics(String settings) {
    return new NodeMetrics(registry, ConfigFactory.parseString(settings)
        .withFallback(ConfigFactory.parseString("per-worker = off, max-tools = 100")), List.of("p"), () -> null);
  }

  private static SnakepitEvent.CallEnded ended(String worker, String tool, Outcome outcome) {
    return new SnakepitEvent.CallEnded(T, "i", "p", worker, 1, tool, outcome, Duration.ofMillis(2));
  }

  @Test
  void workersMoveThroughStartingIdleBusyRetiringAndAreGoneAfterTheirExit() {
    NodeMetrics m = metrics("");
    m.record(new SnakepitEvent.WorkerReserved(T, "i", "p", "p-0-1"));
    assertEquals(1, m.workers("p", NodeMetrics.State.STARTING));
    m.record(new SnakepitEvent.WorkerReady(T, "i", "p", "p-0-1", 0, 0, 0, "b", Duration.ofMillis(150)));
    assertEquals(List.of(0, 1), List.of(m.workers("p", NodeMetrics.State.STARTING),
        m.workers("p", NodeMetrics.State.IDLE)));
    m.record(new SnakepitEvent.CallStarted(T, "i", "p", "p-0-1", 1, "ping", Duration.ofMillis(3)));
    assertEquals(1, m.workers("p", NodeMetrics.State.BUSY));
    m.record(ended("p-0-1", "ping", Outcome.OK));
    assertEquals(1, m.workers("p", NodeMetrics.State.IDLE));
    m.record(new SnakepitEvent.WorkerRecycled(T, "i", "p", "p-0-1", "calls"));
    assertEquals(1, m.workers("p", NodeMetrics.State.RETIRING));
    m.record(new SnakepitEvent.WorkerExited(T, "i", "p", "p-0-1", 0, 0, "stopped", "stopped", false));
    for (NodeMetrics.State s : NodeMetrics.State.values()) {
      assertEquals(0, m.workers("p", s), s.name());
    }
    assertEquals(1, registry.get("snakepit.worker.exits").tags("reason", "stopped").counter().count());
    assertEquals(1, registry.get("snakepit.worker.start.duration").timer().count());
    assertEquals(1, registry.get("snakepit.queue.wait").timer().count());
  }

  @Test
  void callsAreCountedByToolAndOutcomeAndTimed() {
    NodeMetrics m = metrics("");
    m.record(ended("w", "ping", Outcome.OK));
    m.record(ended("w", "ping", Outcome.OK));
    m.record(ended("w", "ping", Outcome.TIMEOUT));
    m.record(ended("w", "fail", Outcome.ERROR));
    assertEquals(2, registry.get("snakepit.calls").tags("tool", "ping", "outcome", "ok").counter().count());
    assertEquals(1, registry.get("snakepit.calls").tags("tool", "ping", "outcome", "timeout").counter().count());
    assertEquals(0, registry.get("snakepit.calls").tags("tool", "ping", "outcome", "failed").counter().count());
    assertEquals(1, registry.get("snakepit.calls").tags("tool", "fail", "outcome", "error").counter().count());
    assertEquals(3, registry.get("snakepit.call.duration").tags("tool", "ping").timer().count());
  }

  @Test
  void toolsBeyondTheBoundCountAsOther() {
    NodeMetrics m = metrics("max-tools = 2");
    for (String tool : List.of("a", "b", "c", "d", "a")) {
      m.record(ended("w", tool, Outcome.OK));
    }
    assertEquals(2, registry.get("snakepit.calls").tags("tool", "a", "outcome", "ok").counter().count());
    assertEquals(2, registry.get("snakepit.calls").tags("tool", NodeMetrics.OTHER_TOOLS, "outcome", "ok").counter()
        .count());
    assertEquals(3, registry.get("snakepit.call.duration").timers().size());
  }

  @Test
  void theCircuitGaugeFollowsItsEventsAndSettlementsCountByHow() {
    NodeMetrics m = metrics("");
    assertEquals(0, registry.get("snakepit.circuit.open").gauge().value());
    m.record(new SnakepitEvent.CircuitOpened(T, "i", "p", 2, Duration.ofSeconds(1), "crashes"));
    assertEquals(1, registry.get("snakepit.circuit.open").gauge().value());
    m.record(new SnakepitEvent.CircuitClosed(T, "i", "p"));
    assertEquals(0, registry.get("snakepit.circuit.open").gauge().value());
    assertEquals(0, registry.get("snakepit.settled").tags("outcome", "killed").counter().count());
    m.record(new SnakepitEvent.OrphanSettled(T, "i", "w", 5, "killed", List.of(5), ""));
    m.record(new SnakepitEvent.ImpostorSkipped(T, "i", "w", 6, List.of("start time differs")));
    assertEquals(1, registry.get("snakepit.settled").tags("outcome", "killed").counter().count());
    assertEquals(1, registry.get("snakepit.settled").tags("outcome", "impostor").counter().count());
    assertEquals(0, registry.get("snakepit.queue.depth").gauge().value(), "no node yet: nothing queued");
  }

  @Test
  void saturationAndJournalDamageAreCountedFromZero() {
    NodeMetrics m = metrics("");
    assertEquals(0, registry.get("snakepit.pool.saturated").tags("pool", "p").counter().count());
    assertEquals(0, registry.get("snakepit.journal.damaged").counter().count());
    m.record(new SnakepitEvent.PoolSaturated(T, "i", "p", 1000));
    m.record(new SnakepitEvent.PoolSaturated(T, "i", "p", 1000));
    m.record(new SnakepitEvent.JournalDamaged(T, "i", "the journal data/registry.mv.db was damaged"));
    assertEquals(2, registry.get("snakepit.pool.saturated").tags("pool", "p").counter().count());
    assertEquals(1, registry.get("snakepit.journal.damaged").counter().count());
    assertEquals(0, registry.get("snakepit.queue.capacity").tags("pool", "p").gauge().value(), "no node yet");
    assertEquals(0, registry.get("snakepit.worker.memory.limit").tags("pool", "p").gauge().value(), "no node yet");
  }

  @Test
  void aToolBoundBelowOneIsRefusedNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> metrics("max-tools = 0"));
    assertTrue(e.getMessage().contains("snakepit.metrics.max-tools = 0"), e.getMessage());
  }
}
