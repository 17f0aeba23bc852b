package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLinks;
import io.snakepit.actors.worker.Job;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The {@code Pool} handle against a probe standing in for its coordinator: what each call submits. */
class PoolTest {
  private static final ActorTestKit testKit = ActorTestKit.create();
  private static final byte[] PAYLOAD = "raw bytes".getBytes(StandardCharsets.UTF_8);

  private TestProbe<PoolActor.Command> coordinator;
  private Pool pool;

  @AfterAll
  static void shutdownTestKit() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void newPool() {
    coordinator = testKit.createTestProbe();
    pool = new Pool("p", PoolLinks.to(coordinator.ref()), 1 << 20);
  }

  private Job.Unary submitted() {
    return assertInstanceOf(Job.Unary.class, coordinator.expectMessageClass(PoolActor.Submit.class).job());
  }

  @Test
  void payloadCallCarriesItsOptions() {
    CallOptions options = CallOptions.defaults().withTimeout(Duration.ofSeconds(3)).withIdempotent(true);
    pool.execute("echo", "{}", PAYLOAD, options);
    Job.Unary job = submitted();
    assertEquals(options, job.options());
    assertTrue(job.request().getHasPayload());
    assertEquals("raw bytes", job.request().getPayload().toStringUtf8());
  }

  @Test
  void payloadCallWithoutOptionsHasTheDefaults() {
    pool.execute("echo", "{}", PAYLOAD);
    Job.Unary job = submitted();
    assertEquals(CallOptions.defaults(), job.options());
    assertTrue(job.request().getHasPayload());
  }

  @Test
  void sessionPayloadCallCarriesItsSessionAndPayload() {
    pool.executeInSession("s-1", Affinity.STRICT_QUEUE, "echo", "{}", PAYLOAD);
    Job.Unary job = submitted();
    assertEquals(CallOptions.defaults().withSession("s-1", Affinity.STRICT_QUEUE), job.options());
    assertEquals("raw bytes", job.request().getPayload().toStringUtf8());
  }

  @Test
  void oversizedPayloadFailsWithoutReachingThePool() {
    ExecutionException e = assertThrows(ExecutionException.class, () -> pool.execute("echo", "{}",
        new byte[2 << 20], CallOptions.defaults().withTimeout(Duration.ofSeconds(3))).toCompletableFuture().get());
    assertInstanceOf(MessageTooLargeException.class, e.getCause());
    coordinator.expectNoMessage(Duration.ofMillis(100));
  }
}
