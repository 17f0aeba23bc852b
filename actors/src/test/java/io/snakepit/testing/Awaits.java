package io.snakepit.testing;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Waiting for a call's outcome in a test: its result, or the failure it was expected to end with. */
public final class Awaits {
  /** How long a call may take unless a test says otherwise. */
  public static final Duration LIMIT = Duration.ofSeconds(30);

  private Awaits() {}

  /** The result of {@code stage}, waiting up to {@link #LIMIT}. */
  public static <T> T await(CompletionStage<T> stage) throws Exception {
    return await(stage, LIMIT);
  }

  /** The result of {@code stage}, waiting up to {@code limit}. */
  public static <T> T await(CompletionStage<T> stage, Duration limit) throws Exception {
    return stage.toCompletableFuture().get(limit.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Why {@code stage} failed, waiting up to {@link #LIMIT}; the test fails if it succeeded. */
  public static Throwable failure(CompletionStage<?> stage) throws Exception {
    return failure(stage, LIMIT);
  }

  /** Why {@code stage} failed, waiting up to {@code limit}; the test fails if it succeeded. */
  public static Throwable failure(CompletionStage<?> stage, Duration limit) throws Exception {
    try {
      stage.toCompletableFuture().get(limit.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("the call succeeded but was expected to fail");
  }

  /**
   * What {@code attempt} returns once its call stops failing, tried every 100 ms (a replacement worker, or a circuit
   * that lets calls through again, takes a while); past {@code limit}, the last failure is thrown.
   */
  public static <T> T eventually(Duration limit, Callable<T> attempt) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      try {
        return attempt.call();
      } catch (ExecutionException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }
}
