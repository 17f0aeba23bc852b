package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.persistence.Settlement;
import io.snakepit.persistence.WorkerRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

/** Exits go to the journal one write at a time, those that came meanwhile together in the next. */
class ExitBatchesTest {
  private final List<List<WorkerRegistry.Closing>> writes = new ArrayList<>();
  private final List<CompletableFuture<Void>> replies = new ArrayList<>();
  private final List<String> failed = new ArrayList<>();
  private final ExitBatches exits = new ExitBatches(closings -> {
    writes.add(closings);
    CompletableFuture<Void> reply = new CompletableFuture<>();
    replies.add(reply);
    return reply;
  }, (closings, error) -> closings.forEach(c -> failed.add(c.nonce())));

  @Test
  void exitsThatArriveDuringAWriteGoTogetherInTheNext() {
    exits.exited("a", "exit 0");
    exits.exited("b", "exit 0");
    exits.exited("c", "signal 9");
    assertEquals(1, writes.size(), "a second write began before the first was answered");
    assertEquals(List.of(new WorkerRegistry.Closing("a", Settlement.EXITED, "exit 0")), writes.get(0));
    replies.get(0).complete(null);
    assertEquals(List.of("b", "c"), writes.get(1).stream().map(WorkerRegistry.Closing::nonce).toList());
    assertEquals("signal 9", writes.get(1).get(1).detail());
  }

  @Test
  void idleWaitsForEveryExitHandedInAndAFailedWriteDoesNotStopTheNext() {
    assertTrue(exits.idle().toCompletableFuture().isDone(), "nothing pending: idle at once");
    exits.exited("a", "exit 0");
    exits.exited("b", "exit 0");
    CompletionStage<Void> idle = exits.idle();
    replies.get(0).completeExceptionally(new IllegalStateException("disk full"));
    assertEquals(List.of("a"), failed);
    assertFalse(idle.toCompletableFuture().isDone(), "idle before b was written");
    replies.get(1).complete(null);
    assertTrue(idle.toCompletableFuture().isDone());
    assertEquals(2, writes.size());
  }
}
