package io.snakepit.actors.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Snakepit;
import io.snakepit.WorkerCrashedException;
import io.snakepit.testing.Awaits;
import io.snakepit.testing.Scrapes;
import io.snakepit.testing.TestNodes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/**
 * The metrics of a real node: calls that succeed, fail in Python and die with their worker, counted by outcome; the
 * killed worker's exit by reason; workers by state, the queue while the only worker is busy, and resident memory read
 * from /proc; and every metric name of the contract in the Prometheus text.
 */
class NodeMetricsIT {
  private static final Duration LIMIT = Duration.ofSeconds(30);

  private static double awaitValue(String what, DoubleSupplier value, double expected) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    double seen = value.getAsDouble();
    while (seen != expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
      seen = value.getAsDouble();
    }
    assertEquals(expected, seen, what + " within " + LIMIT);
    return seen;
  }

  private static double gauge(MeterRegistry r, String name, String... tags) {
    return r.get(name).tags(tags).gauge().value();
  }

  private static double calls(MeterRegistry r, String tool, String outcome) {
    return r.get("snakepit.calls").tags("pool", "m", "tool", tool, "outcome", outcome).counter().count();
  }

  /** The value once it is a number (a health score is NaN until the node's first evaluation). */
  private static double awaitScored(DoubleSupplier value) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    double seen = value.getAsDouble();
    while (Double.isNaN(seen) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      seen = value.getAsDouble();
    }
    return seen;
  }

  @Test
  void callsExitsStatesQueueAndMemoryOfARealPool() throws Exception {
    ActorTestKit kit = ActorTestKit.create("metrics", TestNodes.config("""
        snakepit.status.interval = 200ms
        snakepit.pools.default = null
        snakepit.pools.m { workers = 1, restart-backoff { min = 100ms, max = 200ms } }
        """));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      Snakepit.bindMetrics(kit.system(), registry);
      Pool pool = Snakepit.get(kit.system()).pool("m");
      Awaits.await(pool.ready());
      int pid = Integer.parseInt(Awaits.await(pool.execute("pid", "{}")).json());
      for (int i = 0; i < 4; i++) {
        Awaits.await(pool.execute("ping", "{}"));
      }
      for (int i = 0; i < 2; i++) {
        assertInstanceOf(PythonException.class, Awaits.failure(pool.execute("fail", "{}")));
      }
      awaitValue("ok pings", () -> calls(registry, "ping", "ok"), 4);
      awaitValue("failed calls", () -> calls(registry, "fail", "error"), 2);
      assertEquals(4, registry.get("snakepit.call.duration").tags("pool", "m", "tool", "ping").timer().count());
      awaitValue("idle workers", () -> gauge(registry, "snakepit.workers", "pool", "m", "state", "idle"), 1);
      double rss = gauge(registry, "snakepit.worker.rss", "pool", "m");
      assertTrue(rss > 1_000_000, "the worker's resident memory reads " + rss + " bytes");
      assertEquals(1, registry.get("snakepit.worker.start.duration").tags("pool", "m").timer().count());
      double health = awaitScored(() -> gauge(registry, "snakepit.worker.health", "pool", "m"));
      assertTrue(health > 0.7 && health <= 1, "the lowest health of the pool's workers: " + health);

      // The only worker busy, a second call waits in the queue; then the worker is killed under its call.
      CompletionStage<?> running = pool.execute("sleep", "{\"seconds\": 30}");
      awaitValue("busy workers", () -> gauge(registry, "snakepit.workers", "pool", "m", "state", "busy"), 1);
      CompletionStage<?> queued = pool.execute("ping", "{}");
      awaitValue("queued calls", () -> gauge(registry, "snakepit.queue.depth", "pool", "m"), 1);
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();
      assertInstanceOf(WorkerCrashedException.class, Awaits.failure(running));
      Awaits.await(queued);
      awaitValue("calls that died with their worker", () -> calls(registry, "sleep", "failed"), 1);
      awaitValue("exits by killed", () -> registry.get("snakepit.worker.exits")
          .tags("pool", "m", "reason", "killed").counter().count(), 1);
      awaitValue("ok pings", () -> calls(registry, "ping", "ok"), 5);
      awaitValue("queued calls", () -> gauge(registry, "snakepit.queue.depth", "pool", "m"), 0);
      awaitValue("idle workers", () -> gauge(registry, "snakepit.workers", "pool", "m", "state", "idle"), 1);
      assertEquals(0, gauge(registry, "snakepit.workers", "pool", "m", "state", "busy"));
      assertEquals(0, gauge(registry, "snakepit.workers", "pool", "m", "state", "starting"));
      assertEquals(2, registry.get("snakepit.worker.start.duration").tags("pool", "m").timer().count());
      assertEquals(5, registry.get("snakepit.call.duration").tags("pool", "m", "tool", "ping").timer().count());
      assertEquals(9, registry.get("snakepit.queue.wait").tags("pool", "m").timer().count(),
          "queue waits recorded: one per call a worker took");
      assertEquals(0, gauge(registry, "snakepit.circuit.open", "pool", "m"));
      assertTrue(gauge(registry, "snakepit.worker.rss", "pool", "m") > 1_000_000, "the replacement's memory");

      Scrapes.assertEveryContractName(registry.scrape());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void perWorkerMemoryHasAWorkerLabelUntilTheWorkerIsGone() throws Exception {
    ActorTestKit kit = ActorTestKit.create("metrics-per-worker", TestNodes.config("""
        snakepit.metrics.per-worker = on
        snakepit.status.interval = 200ms
        snakepit.pools.default = null
        snakepit.pools.w { workers = 1, restart-backoff { min = 100ms, max = 200ms } }
        """));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      Snakepit.bindMetrics(kit.system(), registry);
      Pool pool = Snakepit.get(kit.system()).pool("w");
      Awaits.await(pool.ready());
      int pid = Integer.parseInt(Awaits.await(pool.execute("pid", "{}")).json());
      var first = registry.get("snakepit.worker.rss").tags("pool", "w").gauges();
      assertEquals(1, first.size(), "one series per worker: " + first);
      String worker = first.iterator().next().getId().getTag("worker");
      assertTrue(first.iterator().next().value() > 1_000_000, "resident memory of worker " + worker);
      double health = awaitScored(() -> gauge(registry, "snakepit.worker.health", "pool", "w", "worker", worker));
      assertTrue(health > 0.7 && health <= 1, "the health of worker " + worker + ": " + health);
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();
      Awaits.eventually(LIMIT, () -> Awaits.await(pool.execute("ping", "{}")));
      awaitValue("series of the killed worker", () -> registry.find("snakepit.worker.rss")
          .tags(List.of(Tag.of("worker", worker))).gauges().size(), 0);
      assertEquals(0, registry.find("snakepit.worker.health").tags(List.of(Tag.of("worker", worker))).gauges()
          .size(), "the killed worker's health series is gone");
      assertTrue(registry.scrape().contains("snakepit_worker_rss_bytes{pool=\"w\",worker=\""),
          "the replacement's series: " + registry.scrape());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void bindingAfterTheNodeStartedIsRefusedSayingWhen() {
    ActorTestKit kit = ActorTestKit.create("metrics-late", TestNodes.config("snakepit.pools.default = null"));
    try {
      Snakepit.get(kit.system());
      IllegalStateException refused = assertThrows(IllegalStateException.class,
          () -> Snakepit.bindMetrics(kit.system(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)));
      assertTrue(refused.getMessage().contains("before the first Snakepit.get"), refused.getMessage());
    } finally {
      kit.shutdownTestKit();
    }
  }
}
