package io.snakepit.actors.pool;

import io.snakepit.actors.worker.WorkerJournal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;

/**
 * Journals the slots' adapter states so that the next JVM restores them, one write per slot at a time: a state that
 * arrives while the slot's last one is being written waits, and only the newest waiting one is written next. A
 * snapshot every {@code snapshot.interval} then costs at most what the journal keeps up with, and a state equal to
 * the one journaled is not written again. A write that fails is logged: the pool keeps the state in memory either way.
 *
 * <p>Called on the pool actor's thread; the journal's answers come on others, hence the lock.
 */
final class StateKeeper {
  private final String pool;
  private final WorkerJournal journal;
  private final Logger log;
  /** Per slot: the state last handed to the journal (written or being written). */
  private final Map<Integer, byte[]> journaled = new HashMap<>();
  /** Per slot: the state that waits for the slot's write in flight to end (a {@link #FORGET} for none). */
  private final Map<Integer, byte[]> waiting = new HashMap<>();
  /** Per slot with a write in flight: when it ends. */
  private final Map<Integer, CompletableFuture<Void>> inFlight = new HashMap<>();
  private static final byte[] FORGET = new byte[0];

  StateKeeper(String pool, WorkerJournal journal, Logger log) {
    this.pool = pool;
    this.journal = journal;
    this.log = log;
  }

  /** The states an earlier JVM journaled, known to be there already. */
  synchronized void loaded(Map<Integer, byte[]> states) {
    journaled.putAll(states);
  }

  /** Journals {@code state} (null: none) as slot {@code slot}'s. */
  synchronized void keep(int slot, byte[] state) {
    byte[] value = state == null ? FORGET : state;
    if (inFlight.containsKey(slot)) {
      waiting.put(slot, value);
    } else if (!Arrays.equals(journaled.getOrDefault(slot, FORGET), value)) {
      write(slot, value);
    }
  }

  private void write(int slot, byte[] value) {
    journaled.put(slot, value);
    CompletableFuture<Void> done = new CompletableFuture<>();
    inFlight.put(slot, done);
    journal.keepState(pool, slot, value == FORGET ? null : value).whenComplete((ok, error) -> {
      if (error != null) {
        log.warn("pool '{}': could not journal the adapter state of slot {} ({} bytes); it is kept in memory, but a"
            + " restart of the node would not restore it: {}", pool, slot, value.length, error.getMessage());
      }
      writeEnded(slot, error != null);
      done.complete(null);
    });
  }

  private synchronized void writeEnded(int slot, boolean failed) {
    inFlight.remove(slot);
    if (failed) {
      journaled.remove(slot); // unknown: the next state is written whatever it is
    }
    byte[] next = waiting.remove(slot);
    if (next != null && !Arrays.equals(journaled.getOrDefault(slot, FORGET), next)) {
      write(slot, next);
    }
  }

  /** Completes once no write is in flight or waiting (each write's failure is logged, not passed on). */
  CompletionStage<Void> flushed() {
    List<CompletableFuture<Void>> writes;
    synchronized (this) {
      if (inFlight.isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
      writes = new ArrayList<>(inFlight.values());
    }
    return CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).thenCompose(done -> flushed());
  }
}
