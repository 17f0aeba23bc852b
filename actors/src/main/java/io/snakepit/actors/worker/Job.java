package io.snakepit.actors.worker;

import io.snakepit.CallOptions;
import io.snakepit.Result;
import io.snakepit.proto.ExecuteRequest;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** A call on its way to a worker, with the promise its caller holds. */
public sealed interface Job {

  /** The request as the worker receives it. */
  ExecuteRequest request();

  /** The caller's stage. */
  CompletableFuture<?> promise();

  /** The caller's options (deadline, idempotence). */
  CallOptions options();

  /** When the call was submitted (System.nanoTime), for its deadline and its time in the queue. */
  long submitted();

  /** Completes the caller's stage with an error. */
  default void fail(Throwable error) {
    promise().completeExceptionally(error);
  }

  /** Whether the caller's stage is already complete (for example cancelled). */
  default boolean isDone() {
    return promise().isDone();
  }

  /** One request, one result. */
  record Unary(ExecuteRequest request, CallOptions options, long submitted, CompletableFuture<Result> promise)
      implements Job {}

  /** One request, a stream of results handed to {@code onItem} in order. */
  record Stream(ExecuteRequest request, CallOptions options, long submitted, Consumer<Result> onItem,
      CompletableFuture<Void> promise) implements Job {}
}
