package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.PoolUnavailableException;
import io.snakepit.Snakepit;
import io.snakepit.WorkerStartException;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A pool whose workers cannot start fails with an error that names the cause, and leaves no process behind. */
class WorkerStartFailureIT {

  /** Starts a node with one pool configured by {@code pool}, and returns why its start failed. */
  private static WorkerStartException startFailure(String pool) throws Exception {
    ActorTestKit kit = ActorTestKit.create("startfail", TestNodes.config("snakepit.pools.default {" + pool + "}"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      try {
        snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        WorkerStartException error = assertInstanceOf(WorkerStartException.class, e.getCause());
        // Calls to a pool that failed to start fail at once, with the start error as the cause.
        ExecutionException call = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> snakepit.execute("ping", "{}").toCompletableFuture().get(10, TimeUnit.SECONDS));
        assertInstanceOf(PoolUnavailableException.class, call.getCause());
        assertTrue(Procs.awaitGone(Procs.withInstance(TestNodes.INSTANCE), Duration.ofSeconds(10)).isEmpty(),
            "the failed pool left processes: " + Procs.withInstance(TestNodes.INSTANCE));
        return error;
      }
      throw new AssertionError("the pool started, but was expected to fail");
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void adapterThatFailsToImportFailsThePoolWithThePythonTraceback() throws Exception {
    WorkerStartException e = startFailure("adapter = \"snakepit_worker.examples.broken:BrokenAdapter\"");
    assertTrue(e.getMessage().contains("snakepit_worker.examples.broken:BrokenAdapter"), e.getMessage());
    assertTrue(e.getMessage().contains("exited with code 3"), e.getMessage());
    assertTrue(e.stderrTail().stream().anyMatch(l -> l.contains("Traceback")), e.stderrTail()::toString);
    assertTrue(e.stderrTail().stream().anyMatch(l -> l.contains("ModuleNotFoundError")), e.stderrTail()::toString);
  }

  @Test
  void adapterClassThatDoesNotExistIsNamed() throws Exception {
    WorkerStartException e = startFailure("adapter = \"snakepit_worker.examples.basic:NoSuchClass\"");
    assertTrue(e.getMessage().contains("NoSuchClass"), e.getMessage());
  }

  @Test
  void missingPythonIsAClearError() throws Exception {
    WorkerStartException e = startFailure("python = \"/nonexistent/bin/python3\"");
    assertTrue(e.getMessage().contains("cannot start Python '/nonexistent/bin/python3'"), e.getMessage());
    assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    assertTrue(e.getMessage().contains("snakepit.pools.<name>.python"), e.getMessage());
  }

  @Test
  void programThatIsNotAWorkerPythonIsAClearError() throws Exception {
    WorkerStartException e = startFailure("python = \"/bin/false\"");
    assertTrue(e.getMessage().contains("exited with code 1 before it was ready"), e.getMessage());
  }

  @Test
  void workerThatNeverBecomesReadyHitsTheStartDeadlineAndItsGroupIsKilled() throws Exception {
    long started = System.nanoTime();
    WorkerStartException e = startFailure("""
        adapter = "snakepit_worker.examples.slow_start:NeverReadyAdapter"
        start-timeout = 2s
        """);
    assertTrue(e.getMessage().contains("did not become ready within 2000 ms"), e.getMessage());
    assertTrue(e.getMessage().contains("process group was killed"), e.getMessage());
    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(30), "the deadline did not fire in time");
  }

  @Test
  void malformedPoolConfigurationIsRejectedWithTheSettingNamed() {
    ActorTestKit kit = ActorTestKit.create("badconfig", TestNodes.config("snakepit.pools.default.workers = 0"));
    try {
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Snakepit.get(kit.system()));
      assertTrue(e.getMessage().contains("snakepit.pools.default.workers is 0"), e.getMessage());
      assertEquals(List.of(), Procs.withInstance(TestNodes.INSTANCE));
    } finally {
      kit.shutdownTestKit();
    }
  }
}
