package io.snakepit.actors.worker;

import io.snakepit.CallOptions;
import io.snakepit.Result;
import io.snakepit.actors.CallTracing;
import io.snakepit.proto.ExecuteRequest;
import java.util.concurrent.CompletableFuture;

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

  /** The call's trace: its span in the node and the traceparent in its request. */
  CallTracing.Call trace();

  /** How many times this call was started on a worker that then crashed. */
  int attempt();

  /** The same call, counted as one more attempt (an idempotent call retried after a crash). */
  Job nextAttempt();

  /** Completes the caller's stage with an error. */
  default void fail(Throwable error) {
    promise().completeExceptionally(error);
  }

  /** Whether the caller's stage is already complete (for example cancelled). */
  default boolean isDone() {
    return promise().isDone();
  }

  /** One request, one result. */
  record Unary(ExecuteRequest request, CallOptions options, long submitted, int attempt,
      CompletableFuture<Result> promise, CallTracing.Call trace) implements Job {
    /** An untraced call. */
    public Unary(ExecuteRequest request, CallOptions options, long submitted, int attempt,
        CompletableFuture<Result> promise) {
      this(request, options, submitted, attempt, promise, CallTracing.NONE);
    }

    @Override
    public Job nextAttempt() {
      return new Unary(request, options, submitted, attempt + 1, promise, trace);
    }
  }

  /** One request, a stream of results handed to {@code items} in order. */
  record Stream(ExecuteRequest request, CallOptions options, long submitted, int attempt, StreamItems items,
      CompletableFuture<Void> promise, CallTracing.Call trace) implements Job {
    @Override
    public Job nextAttempt() {
      return new Stream(request, options, submitted, attempt + 1, items, promise, trace);
    }
  }
}
