package io.snakepit.actors.pool;

import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;

/**
 * Bounds how many of a pool's workers start at once ({@code start-concurrency}). Python processes that all import
 * at once on a small machine each start slower than the last, until starts time out; so the others wait, first come
 * first served. Kept by worker id: a worker that stops starting by any path (ready, failed, ended) frees its place
 * once, and a waiting slot that moved on meanwhile (stopped, or given another worker) is passed over.
 */
final class StartGate {

  private record Waiting(Slot slot, String workerId) {}

  private final int limit;
  private final Set<String> starting = new HashSet<>();
  private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();

  StartGate(int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("start-concurrency is " + limit + ": use 1 or more");
    }
    this.limit = limit;
  }

  /** Whether {@code workerId} may start now, nobody waiting before it; if so, it counts as starting. */
  boolean enter(String workerId) {
    if (starting.size() >= limit || !waiting.isEmpty()) {
      return false;
    }
    starting.add(workerId);
    return true;
  }

  /** The slot's worker {@code workerId} waits for its turn (after those waiting already). */
  void await(Slot slot, String workerId) {
    waiting.addLast(new Waiting(slot, workerId));
  }

  /** {@code workerId} is no longer starting; true if it was. */
  boolean leave(String workerId) {
    return starting.remove(workerId);
  }

  /**
   * The next waiting slot whose worker may start now (that worker then counts as starting), or null. A slot that is
   * no longer queued with the same worker is dropped from the line.
   */
  Slot next() {
    while (starting.size() < limit && !waiting.isEmpty()) {
      Waiting next = waiting.pollFirst();
      if (next.slot().state() == Slot.State.QUEUED && next.workerId().equals(next.slot().workerId())) {
        starting.add(next.workerId());
        return next.slot();
      }
    }
    return null;
  }

  /** How many workers are starting. */
  int starting() {
    return starting.size();
  }

  int limit() {
    return limit;
  }
}
