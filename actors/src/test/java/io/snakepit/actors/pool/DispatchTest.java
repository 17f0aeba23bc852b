package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.Affinity;
import io.snakepit.CallOptions;
import io.snakepit.CircuitOpenException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.QueueTimeoutException;
import io.snakepit.SessionBusyException;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import io.snakepit.actors.worker.Job;
import io.snakepit.proto.ExecuteRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class DispatchTest {

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final List<String> sent = new ArrayList<>();
  private final List<SnakepitEvent> events = new ArrayList<>();
  private Slots slots;
  private Dispatch dispatch;

  /** Two ready workers running {@code concurrency} calls each, a queue of {@code capacity}. */
  private void pool(int concurrency, int capacity, int breakerMaxFailures) {
    PoolSettings settings = new PoolSettings("p", 2, 0, capacity, Duration.ofSeconds(1), Duration.ofMillis(100),
        Duration.ofSeconds(1), null, Duration.ofMillis(100), 3, Duration.ofMinutes(1), breakerMaxFailures,
        Duration.ofMillis(500), Duration.ofSeconds(10), 2);
    dispatch = new Dispatch(settings, concurrency, now::get, LoggerFactory.getLogger(DispatchTest.class),
        Events.to(events::add, "node1"), new PoolLink(CompletableFuture.completedFuture(null)).lane(), (slot, job) -> sent.add(job.request().getTool() + "@" + slot.index));
    slots = new Slots("p", 2, 0);
    for (Slot slot : slots) {
      slots.spawn(slot, true);
      slot.becameReady(null);
      dispatch.offer(slot);
    }
  }

  private Job call(String tool, CallOptions options) {
    return new Job.Unary(ExecuteRequest.newBuilder().setTool(tool).build(), options, now.get(), 1,
        new CompletableFuture<>());
  }

  private Job submit(String tool) {
    return submit(tool, CallOptions.defaults());
  }

  private Job submit(String tool, CallOptions options) {
    Job job = call(tool, options);
    dispatch.submit(job);
    return job;
  }

  private Job session(String tool, String session, Affinity affinity) {
    return submit(tool, CallOptions.defaults().withSession(session, affinity));
  }

  /** Calls "a" and "b" keep both workers (of concurrency 1) busy. */
  private void bothBusy() {
    submit("a");
    submit("b");
  }

  /** A call on {@code index}'s worker ended: the actor counts it and offers the worker more. */
  private void callEnded(int index) {
    Slot slot = slots.get(index);
    slot.callEnded();
    dispatch.offer(slot);
  }

  private static Throwable failure(Job job) {
    assertTrue(job.isDone(), "the call failed");
    try {
      job.promise().get();
      throw new AssertionError("the call succeeded");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void eachCallGoesToTheIdleWorkerThatWaitedLongest() {
    pool(2, 10, 0);
    submit("a");
    submit("b");
    submit("c");
    submit("d");
    assertEquals(List.of("a@0", "b@1", "c@0", "d@1"), sent);
    assertEquals(List.of(), dispatch.idle());
  }

  @Test
  void callsWaitInTheQueueAndGoInOrderToTheNextFreeWorker() {
    pool(1, 10, 0);
    submit("a");
    submit("b");
    submit("c");
    Job cancelled = submit("d");
    submit("e");
    cancelled.promise().cancel(false);
    assertEquals(3, dispatch.queued());
    callEnded(1);
    callEnded(0);
    callEnded(1);
    assertEquals(List.of("a@0", "b@1", "c@1", "e@0"), sent);
    assertEquals(List.of(slots.get(1)), dispatch.idle());
  }

  @Test
  void aFullQueueRefusesTheCallAsSaturated() {
    pool(1, 2, 0);
    submit("a");
    submit("b");
    submit("c");
    submit("d");
    Job refused = submit("e");
    PoolSaturatedException e = assertInstanceOf(PoolSaturatedException.class, failure(refused));
    assertTrue(e.getMessage().contains("2 calls are queued (queue-capacity 2)"), e.getMessage());
    assertEquals(2, dispatch.queued());
    submit("f");
    assertEquals(List.of("PoolSaturated p 2"), saturations(), "one event for the burst, not one per refused call");
    callEnded(0);
    submit("g");
    submit("h");
    assertEquals(List.of("PoolSaturated p 2", "PoolSaturated p 2"), saturations(),
        "a burst after a call was taken again is published anew");
  }

  private List<String> saturations() {
    return events.stream().filter(e -> e instanceof SnakepitEvent.PoolSaturated)
        .map(e -> (SnakepitEvent.PoolSaturated) e).map(e -> "PoolSaturated " + e.pool() + " " + e.queued()).toList();
  }

  @Test
  void aCallThatWaitedTheQueueTimeoutFailsAndLaterOnesKeepWaiting() {
    pool(1, 10, 0);
    bothBusy();
    Job old = submit("old");
    now.addAndGet(Duration.ofMillis(400).toNanos());
    Job young = submit("young");
    now.addAndGet(Duration.ofMillis(600).toNanos());
    dispatch.expireQueued();
    QueueTimeoutException e = assertInstanceOf(QueueTimeoutException.class, failure(old));
    assertTrue(e.getMessage().contains("call to 'old' waited 1000 ms in pool 'p'"), e.getMessage());
    assertFalse(young.isDone());
    assertEquals(1, dispatch.queued());
  }

  @Test
  void anOpeningCircuitFailsTheQueuedCallsAndRefusesNewOnesUntilItsReset() {
    pool(1, 10, 2);
    bothBusy();
    Job queued = submit("queued");
    dispatch.failed();
    assertFalse(queued.isDone());
    dispatch.failed();
    assertInstanceOf(CircuitOpenException.class, failure(queued));
    Job refused = submit("refused");
    CircuitOpenException e = assertInstanceOf(CircuitOpenException.class, failure(refused));
    assertTrue(e.getMessage().contains("the next call in 500 ms goes through as a probe"), e.getMessage());
    SnakepitEvent.CircuitOpened opened = assertInstanceOf(SnakepitEvent.CircuitOpened.class, events.get(0));
    assertEquals(List.of("node1", "p", 2, Duration.ofMillis(500)),
        List.of(opened.instance(), opened.pool(), opened.failuresInARow(), opened.reset()));
    assertEquals(1, events.size(), events::toString);
  }

  @Test
  void afterTheResetOnlyTheProbeGoesAndItsSuccessReleasesTheOthers() {
    pool(1, 10, 1);
    dispatch.failed();
    now.addAndGet(Duration.ofMillis(500).toNanos());
    submit("probe");
    submit("waits");
    assertEquals(List.of("probe@0"), sent, "calls wait for the probe although a worker is idle");
    assertEquals(CircuitBreaker.State.HALF_OPEN, dispatch.breaker().state());
    dispatch.succeeded();
    callEnded(0);
    assertEquals(List.of("probe@0", "waits@1"), sent);
    assertEquals(CircuitBreaker.State.CLOSED, dispatch.breaker().state());
    assertEquals(List.of(SnakepitEvent.CircuitOpened.class, SnakepitEvent.CircuitClosed.class),
        events.stream().map(Object::getClass).toList());
  }

  @Test
  void aQueuedProbeGoesAloneToTheNextFreeWorker() {
    pool(1, 10, 1);
    bothBusy();
    dispatch.failed();
    now.addAndGet(Duration.ofMillis(500).toNanos());
    Job probe = submit("probe");
    submit("after");
    assertEquals(probe, dispatch.breaker().probe());
    callEnded(0);
    assertEquals(List.of("a@0", "b@1", "probe@0"), sent);
    callEnded(1);
    assertEquals(3, sent.size(), "no other call goes before the probe's outcome");
  }

  @Test
  void aFailedProbeOpensTheCircuitAgainAndFailsTheCallsThatWaited() {
    pool(1, 10, 1);
    dispatch.failed();
    now.addAndGet(Duration.ofMillis(500).toNanos());
    submit("probe");
    Job waiting = submit("waiting");
    dispatch.failed();
    CircuitOpenException e = assertInstanceOf(CircuitOpenException.class, failure(waiting));
    assertTrue(e.getMessage().contains("its probe call failed"), e.getMessage());
    assertEquals(CircuitBreaker.State.OPEN, dispatch.breaker().state());
  }

  @Test
  void aHintSessionStaysWithItsWorkerAndTakesAnyWorkerWhenItIsBusy() {
    pool(1, 10, 0);
    session("first", "s", Affinity.HINT);
    callEnded(0);
    submit("other"); // slot 1 waited longest now
    session("again", "s", Affinity.HINT);
    session("busy", "s", Affinity.HINT);
    assertEquals(List.of("first@0", "other@1", "again@0"), sent);
    assertEquals(1, dispatch.queued(), "bound worker busy, no other idle: it queues");
    callEnded(1);
    assertEquals("busy@1", sent.get(3));
  }

  @Test
  void aStrictQueueSessionWaitsForItsWorkerAheadOfTheQueue() {
    pool(1, 10, 0);
    session("first", "s", Affinity.STRICT_QUEUE);
    session("second", "s", Affinity.STRICT_QUEUE);
    submit("plain");
    submit("queued");
    assertEquals(List.of("first@0", "plain@1"), sent, "the idle worker 1 does not take the session's call");
    callEnded(0);
    assertEquals(List.of("first@0", "plain@1", "second@0"), sent);
    callEnded(0);
    assertEquals("queued@0", sent.get(3));
  }

  @Test
  void aStrictQueueSessionPastTheQueueBoundJoinsTheCommonQueueAndIsRefusedWhenThatIsFull() {
    pool(1, 2, 0);
    session("first", "s", Affinity.STRICT_QUEUE);
    submit("plain");
    Job waits = session("w1", "s", Affinity.STRICT_QUEUE);
    submit("q1");
    assertEquals(1, dispatch.queued(), "w1 waits for its worker, not in the queue");
    Job overflow = session("w2", "s", Affinity.STRICT_QUEUE);
    assertEquals(2, dispatch.queued(), "1 queued + 1 waiting for its worker fill the bound: w2 joins the queue");
    Job refused = session("w3", "s", Affinity.STRICT_QUEUE);
    assertInstanceOf(PoolSaturatedException.class, failure(refused));
    assertFalse(waits.isDone());
    assertFalse(overflow.isDone());
  }

  @Test
  void aFailFastSessionFailsAtOnceWhenItsWorkerIsBusy() {
    pool(1, 10, 0);
    session("first", "s", Affinity.STRICT_FAIL_FAST);
    Job busy = session("second", "s", Affinity.STRICT_FAIL_FAST);
    SessionBusyException e = assertInstanceOf(SessionBusyException.class, failure(busy));
    assertTrue(e.getMessage().contains("bound to worker p-0-1, which is busy"), e.getMessage());
    assertEquals(List.of("first@0"), sent);
  }

  @Test
  void anExpiredSessionIsNoLongerBoundToItsWorker() {
    pool(1, 10, 0);
    session("first", "s", Affinity.STRICT_FAIL_FAST);
    callEnded(0);
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    dispatch.expireSessions();
    assertEquals(0, dispatch.sessions());
    submit("plain");
    session("again", "s", Affinity.STRICT_FAIL_FAST);
    assertEquals(List.of("first@0", "plain@1", "again@0"), sent);
  }

  @Test
  void aSessionWithCallsWaitingForItsWorkerDoesNotExpire() {
    pool(1, 10, 0);
    session("first", "s", Affinity.STRICT_QUEUE);
    session("waiting", "s", Affinity.STRICT_QUEUE);
    now.addAndGet(Duration.ofMinutes(5).toNanos());
    dispatch.expireSessions();
    assertEquals(1, dispatch.sessions());
  }

  @Test
  void closingFailsQueuedAndSessionWaitingCallsAndForgetsIdleWorkers() {
    pool(1, 10, 0);
    session("first", "s", Affinity.STRICT_QUEUE);
    Job pending = session("pending", "s", Affinity.STRICT_QUEUE);
    submit("plain");
    Job queued = submit("queued");
    dispatch.closeAll(new PoolUnavailableException("stopping", null), slots);
    assertInstanceOf(PoolUnavailableException.class, failure(pending));
    assertInstanceOf(PoolUnavailableException.class, failure(queued));
    assertEquals(0, dispatch.queued());
    assertTrue(slots.get(0).pending.isEmpty());
    callEnded(0);
    assertEquals(List.of(slots.get(0)), dispatch.idle());
  }
}
