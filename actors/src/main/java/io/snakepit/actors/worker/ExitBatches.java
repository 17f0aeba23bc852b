package io.snakepit.actors.worker;

import io.snakepit.persistence.Settlement;
import io.snakepit.persistence.WorkerRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The workers' exits, written to the journal in batches: one write in flight at a time, and the exits that arrive
 * meanwhile go together in the next one. A pool that stops ends all its workers at once; one write per exit made the
 * node's stop wait for as many sequential journal writes as it had workers (seconds on a busy host), while a batch
 * closes them all in one or two. Thread-safe: exits come from every worker's actor.
 */
final class ExitBatches {
  private final Function<List<WorkerRegistry.Closing>, CompletionStage<?>> write;
  private final BiConsumer<List<WorkerRegistry.Closing>, Throwable> failed;
  private List<WorkerRegistry.Closing> queued = new ArrayList<>();
  private boolean writing;
  private final List<CompletableFuture<Void>> idleWaiters = new ArrayList<>();

  /**
   * @param write writes closings in one journal write (the registry's {@code Settle})
   * @param failed told of the closings a write failed for (their entries stay open for the next start to settle)
   */
  ExitBatches(Function<List<WorkerRegistry.Closing>, CompletionStage<?>> write,
      BiConsumer<List<WorkerRegistry.Closing>, Throwable> failed) {
    this.write = write;
    this.failed = failed;
  }

  /** Closes the entry of {@code nonce} as exited with {@code status}, in the next batch. */
  void exited(String nonce, String status) {
    synchronized (this) {
      queued.add(new WorkerRegistry.Closing(nonce, Settlement.EXITED, status));
      if (writing) {
        return;
      }
      writing = true;
    }
    flush();
  }

  /** Completes once every exit handed in so far has been written (or has failed); at once when none is pending. */
  CompletionStage<Void> idle() {
    CompletableFuture<Void> waiter = new CompletableFuture<>();
    synchronized (this) {
      if (writing) {
        idleWaiters.add(waiter);
        return waiter;
      }
    }
    waiter.complete(null);
    return waiter;
  }

  /** Writes what is queued, then again for what came meanwhile, until nothing is queued. */
  private void flush() {
    List<WorkerRegistry.Closing> batch = null;
    List<CompletableFuture<Void>> idled = List.of();
    synchronized (this) {
      if (queued.isEmpty()) {
        writing = false;
        idled = List.copyOf(idleWaiters);
        idleWaiters.clear();
      } else {
        batch = queued;
        queued = new ArrayList<>();
      }
    }
    if (batch == null) {
      idled.forEach(waiter -> waiter.complete(null));
    } else {
      write(batch);
    }
  }

  private void write(List<WorkerRegistry.Closing> batch) {
    CompletionStage<?> done;
    try {
      done = write.apply(List.copyOf(batch));
    } catch (RuntimeException e) {
      failed.accept(batch, e);
      flush();
      return;
    }
    done.whenComplete((ok, error) -> {
      if (error != null) {
        failed.accept(batch, error);
      }
      flush();
    });
  }
}
