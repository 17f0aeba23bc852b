package io.snakepit.actors.worker;

import io.snakepit.persistence.Registry;
import io.snakepit.persistence.RegistryClient;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.shim.BootId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Where a worker's life is written: the node's registry, or nowhere when the registry is turned off. */
public interface WorkerJournal {

  /** Records a worker about to be spawned; completes once durable. */
  CompletionStage<?> reserve(String nonce, String workerId, List<String> cgroups);

  /** Records a worker's identity; completes once durable. */
  CompletionStage<?> spawned(String nonce, SpawnedWorker spawned);

  /** Records that a worker's whole tree ended (the registry's client batches it with the writes around it). */
  void exited(String nonce, String status);

  /**
   * Records that a worker was left running for a next node: its shim waits on {@code controlSocket} until
   * {@code until} (epoch ms). Its entry stays open. Completes once durable.
   */
  default CompletionStage<?> detached(String nonce, String controlSocket, long until) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Records that a worker a planned restart left running was adopted by this node: its entry is this node's again.
   * Completes once durable; the worker takes no call before.
   */
  default CompletionStage<?> adopted(String nonce) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Completes once every exit recorded so far has been written (or has failed): a node's stop waits for it, then for
   * the registry's other commands, before the journal is closed.
   */
  default CompletionStage<?> drained() {
    return CompletableFuture.completedFuture(null);
  }

  /** Why no worker can be journaled now (the journal fails writes), or empty while it can. */
  default Optional<String> unavailable() {
    return Optional.empty();
  }

  /** The adapters' states kept for pool {@code pool}'s slots, by slot index; none by default. */
  default CompletionStage<Map<Integer, byte[]>> states(String pool) {
    return CompletableFuture.completedFuture(Map.of());
  }

  /** Whether states given to {@link #keepState} outlive this JVM; not by default. */
  default boolean keepsStates() {
    return false;
  }

  /** Journals slot {@code slot}'s state of pool {@code pool} (null forgets it); completes once durable. */
  default CompletionStage<?> keepState(String pool, int slot, byte[] state) {
    return CompletableFuture.completedFuture(null);
  }

  /** Variables for every worker's environment that tie its tree to this journal; none by default. */
  default Map<String, String> markers() {
    return Map.of();
  }

  /** A journal that records nothing (snakepit.registry.enabled = off). */
  static WorkerJournal none() {
    return new WorkerJournal() {
      @Override
      public CompletionStage<?> reserve(String nonce, String workerId, List<String> cgroups) {
        return CompletableFuture.completedFuture(null);
      }

      @Override
      public CompletionStage<?> spawned(String nonce, SpawnedWorker spawned) {
        return CompletableFuture.completedFuture(null);
      }

      @Override
      public void exited(String nonce, String status) {}
    };
  }

  /** The node's registry. */
  static WorkerJournal of(Registry registry) {
    Logger log = LoggerFactory.getLogger(WorkerJournal.class);
    return new WorkerJournal() {
      @Override
      public CompletionStage<?> reserve(String nonce, String workerId, List<String> cgroups) {
        return registry.client().reserve(nonce, workerId, registry.incarnation(), BootId.current(), cgroups);
      }

      @Override
      public CompletionStage<?> spawned(String nonce, SpawnedWorker spawned) {
        return registry.client().spawned(nonce, spawned);
      }

      @Override
      public Map<String, String> markers() {
        return registry.markers();
      }

      @Override
      public Optional<String> unavailable() {
        return registry.outage().map(RegistryClient.Outage::describe);
      }

      @Override
      public void exited(String nonce, String status) {
        registry.client().exited(nonce, status).whenComplete((done, error) -> {
          if (error != null) {
            // The entry stays open: the next start finds the tree gone and closes it as exited.
            log.warn("could not journal the exit of worker {}: {}", nonce, error.getMessage());
          }
        });
      }

      @Override
      public CompletionStage<?> detached(String nonce, String controlSocket, long until) {
        return registry.client().detached(nonce, controlSocket, until);
      }

      @Override
      public CompletionStage<?> adopted(String nonce) {
        return registry.client().adopted(nonce);
      }

      @Override
      public CompletionStage<?> drained() {
        return registry.client().drained().thenCompose(done -> registry.statesDrained());
      }

      @Override
      public CompletionStage<Map<Integer, byte[]>> states(String pool) {
        return registry.loadStates(pool);
      }

      @Override
      public boolean keepsStates() {
        return true;
      }

      @Override
      public CompletionStage<?> keepState(String pool, int slot, byte[] state) {
        return registry.keepState(pool, slot, state);
      }
    };
  }
}
