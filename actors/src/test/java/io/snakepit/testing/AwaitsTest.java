package io.snakepit.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AwaitsTest {

  @Test
  void awaitReturnsTheResultAndGivesUpAfterItsLimit() throws Exception {
    assertEquals("done", Awaits.await(CompletableFuture.completedFuture("done")));
    assertThrows(TimeoutException.class, () -> Awaits.await(new CompletableFuture<>(), Duration.ofMillis(50)));
  }

  @Test
  void failureReturnsTheCauseAndFailsTheTestWhenTheCallSucceeded() throws Exception {
    IllegalStateException cause = new IllegalStateException("boom");
    assertSame(cause, Awaits.failure(CompletableFuture.failedFuture(cause)));
    AssertionError e = assertThrows(AssertionError.class,
        () -> Awaits.failure(CompletableFuture.completedFuture("fine")));
    assertTrue(e.getMessage().contains("expected to fail"), e.getMessage());
  }

  @Test
  void eventuallyRetriesAFailingCallUntilItSucceeds() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    int got = Awaits.eventually(Duration.ofSeconds(5), () -> {
      if (attempts.incrementAndGet() < 3) {
        throw new ExecutionException(new IllegalStateException("not yet"));
      }
      return attempts.get();
    });
    assertEquals(3, got);
  }

  @Test
  void eventuallyThrowsTheLastFailurePastItsLimit() {
    AtomicInteger attempts = new AtomicInteger();
    ExecutionException e = assertThrows(ExecutionException.class, () -> Awaits.eventually(Duration.ofMillis(250),
        () -> {
          throw new ExecutionException(new IllegalStateException("attempt " + attempts.incrementAndGet()));
        }));
    assertTrue(attempts.get() >= 2, "retried: " + attempts.get());
    assertEquals("attempt " + attempts.get(), e.getCause().getMessage());
  }
}
