package io.snakepit.actors.pool;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * The calls that wait for a free worker, in submission order, up to a bound. Generic over the call type {@code J}:
 * {@code submitted} gives a call's submission time (nanoseconds), {@code done} whether its caller still waits.
 */
final class CallQueue<J> {

  private final ArrayDeque<J> calls = new ArrayDeque<>();
  private final int capacity;
  private final ToLongFunction<J> submitted;
  private final Predicate<J> done;
  /** The queue's length as last changed, for threads other than the pool's (its metrics). */
  private volatile int depth;

  CallQueue(int capacity, ToLongFunction<J> submitted, Predicate<J> done) {
    this.capacity = capacity;
    this.submitted = submitted;
    this.done = done;
  }

  int capacity() {
    return capacity;
  }

  int size() {
    return calls.size();
  }

  /** The number of calls queued, readable from any thread (it lags a change by at most that change). */
  int depth() {
    return depth;
  }

  boolean isEmpty() {
    return calls.isEmpty();
  }

  /** Whether {@code extra} more calls (held elsewhere) and this queue together have room for one more. */
  boolean hasRoom(int extra) {
    return calls.size() + extra < capacity;
  }

  /** Queues the call if there is room; false when the queue is full (the pool is saturated). */
  boolean add(J call) {
    if (!hasRoom(0)) {
      return false;
    }
    calls.addLast(call);
    depth = calls.size();
    return true;
  }

  /** The oldest call whose caller still waits, or null; calls whose callers gave up are dropped. */
  J next() {
    while (!calls.isEmpty()) {
      J call = calls.pollFirst();
      depth = calls.size();
      if (!done.test(call)) {
        return call;
      }
    }
    return null;
  }

  boolean remove(J call) {
    boolean removed = calls.remove(call);
    depth = calls.size();
    return removed;
  }

  /** Empties the queue; returns the calls it held, oldest first. */
  List<J> clear() {
    List<J> all = new ArrayList<>(calls);
    calls.clear();
    depth = 0;
    return all;
  }

  /**
   * Takes out the calls, from the oldest on, that waited {@code limitNanos} or more by {@code now}, and those whose
   * callers gave up before them; returns them, oldest first.
   */
  List<J> expire(long now, long limitNanos) {
    List<J> expired = new ArrayList<>();
    while (!calls.isEmpty()
        && (done.test(calls.peekFirst()) || now - submitted.applyAsLong(calls.peekFirst()) >= limitNanos)) {
      expired.add(calls.pollFirst());
    }
    depth = calls.size();
    return expired;
  }
}
