package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CallQueueTest {

  /** A call submitted at {@code at} (nanoseconds). */
  record Call(String name, long at) {}

  private final Set<Call> cancelled = new HashSet<>();

  private CallQueue<Call> queue(int capacity) {
    return new CallQueue<>(capacity, Call::at, cancelled::contains);
  }

  /** A queue of 10 holding {@code calls} in this order. */
  private CallQueue<Call> queueOf(Call... calls) {
    CallQueue<Call> q = queue(10);
    for (Call call : calls) {
      assertTrue(q.add(call));
    }
    return q;
  }

  @Test
  void refusesCallsBeyondItsBound() {
    CallQueue<Call> q = queue(2);
    assertTrue(q.add(new Call("a", 0)));
    assertTrue(q.add(new Call("b", 0)));
    assertFalse(q.add(new Call("c", 0)));
    assertEquals(2, q.size());
    assertFalse(queue(0).add(new Call("d", 0)), "capacity 0 refuses every call");
  }

  @Test
  void roomCountsCallsHeldElsewhere() {
    CallQueue<Call> q = queue(3);
    q.add(new Call("a", 0));
    assertTrue(q.hasRoom(1));
    assertFalse(q.hasRoom(2));
  }

  @Test
  void handsOutTheOldestWantedCallFirstAndDropsCancelledOnes() {
    List<Call> calls = List.of(new Call("a", 0), new Call("b", 1), new Call("c", 2));
    CallQueue<Call> q = queueOf(calls.toArray(Call[]::new));
    cancelled.add(calls.get(0));
    assertEquals(calls.get(1), q.next());
    assertEquals(calls.get(2), q.next());
    assertNull(q.next());
    assertTrue(q.isEmpty());
  }

  @Test
  void expiresFromTheFrontTheCallsThatWaitedTheLimitAndStopsAtTheFirstFreshOne() {
    Call old = new Call("old", 0);
    Call fresh = new Call("fresh", 900);
    Call cancelledAfterFresh = new Call("cancelled", 950);
    CallQueue<Call> q = queueOf(old, fresh, cancelledAfterFresh);
    cancelled.add(cancelledAfterFresh);
    assertEquals(List.of(), q.expire(999, 1000));
    assertEquals(List.of(old), q.expire(1000, 1000));
    assertEquals(2, q.size());
    assertEquals(List.of(fresh, cancelledAfterFresh), q.expire(1900, 1000));
    assertTrue(q.isEmpty());
  }

  @Test
  void expireTakesCancelledCallsAtTheFrontEvenWhenFresh() {
    Call gaveUp = new Call("gave up", 500);
    Call waiting = new Call("waiting", 500);
    CallQueue<Call> q = queueOf(gaveUp, waiting);
    cancelled.add(gaveUp);
    assertEquals(List.of(gaveUp), q.expire(600, 1000));
    assertEquals(1, q.size());
  }

  @Test
  void clearReturnsEveryCallOldestFirst() {
    Call a = new Call("a", 0);
    Call b = new Call("b", 1);
    CallQueue<Call> q = queueOf(a, b);
    assertTrue(q.remove(a));
    assertFalse(q.remove(a));
    q.add(a);
    assertEquals(List.of(b, a), q.clear());
    assertTrue(q.isEmpty());
  }
}
