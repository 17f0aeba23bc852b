package io.snakepit.actors.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.stream.Attributes;
import akka.stream.javadsl.AsPublisher;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import io.snakepit.Result;
import io.snakepit.actors.worker.StreamItems;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/** The source's demand, order, end and cancellation, against a call played by the test. */
class CallSourceTest {
  private static final ActorTestKit KIT = ActorTestKit.create();
  private static final int WINDOW = 16;

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  /** One started call as the test drives it: what it was asked for, its receiver and its promise. */
  static final class Call {
    final AtomicLong requested = new AtomicLong();
    volatile StreamItems items;
    volatile CompletableFuture<Void> promise;
    int sent;

    void start() {
      items.started(n -> requested.addAndGet(n));
    }

    void send(int n) {
      for (int i = 0; i < n; i++) {
        items.onItem(Result.ofJson(Integer.toString(sent++)));
      }
    }
  }

  private final List<Call> calls = new CopyOnWriteArrayList<>();

  private Source<Result, ?> source() {
    return Source.fromGraph(new CallSource("test", WINDOW, (items, promise) -> {
      Call call = new Call();
      call.items = items;
      call.promise = promise;
      calls.add(call);
    }));
  }

  @Test
  void nothingStartsUntilMaterializedAndEachMaterializationIsACall() throws Exception {
    Source<Result, ?> source = source();
    assertEquals(0, calls.size());
    source.runWith(Sink.ignore(), KIT.system());
    source.runWith(Sink.ignore(), KIT.system());
    awaitTrue(() -> calls.size() == 2);
    assertTrue(calls.stream().allMatch(c -> c.items.paced()));
  }

  @Test
  void itAsksForAWindowAheadAndNoMoreUntilDownstreamTakes() throws Exception {
    ManualSubscriber down = new ManualSubscriber();
    // The publisher's own buffer is one item: what the source pushed is then at most one more than received.
    Publisher<Result> publisher = source().runWith(Sink.<Result>asPublisher(AsPublisher.WITHOUT_FANOUT)
        .withAttributes(Attributes.inputBuffer(1, 1)), KIT.system());
    publisher.subscribe(down);
    awaitTrue(() -> calls.size() == 1);
    Call call = calls.get(0);
    call.start();
    awaitTrue(() -> call.requested.get() == WINDOW);
    call.send(WINDOW);
    Thread.sleep(200); // room for a wrong extra request to show
    assertEquals(WINDOW, call.requested.get(), "asked for more while downstream took nothing");
    down.subscription.request(10);
    awaitTrue(() -> down.received.get() == 10);
    awaitTrue(() -> call.requested.get() > WINDOW);
    call.send((int) call.requested.get() - call.sent);
    Thread.sleep(200);
    assertTrue(call.requested.get() <= down.received.get() + 1 + WINDOW,
        "asked for " + call.requested.get() + " items with " + down.received.get() + " taken downstream");
    call.promise.complete(null);
    down.subscription.request(100);
    awaitTrue(() -> down.completed);
    assertEquals(call.sent, down.received.get());
  }

  @Test
  void itemsComeInOrderThenTheEnd() throws Exception {
    CompletableFuture<List<Result>> all = source().runWith(Sink.seq(), KIT.system()).toCompletableFuture();
    awaitTrue(() -> calls.size() == 1);
    Call call = calls.get(0);
    call.start();
    call.send(3);
    call.promise.complete(null);
    assertEquals(List.of(Result.ofJson("0"), Result.ofJson("1"), Result.ofJson("2")), all.get(10, TimeUnit.SECONDS));
  }

  @Test
  void theCallsFailureFailsTheStreamAfterItsItems() throws Exception {
    List<Result> seen = new CopyOnWriteArrayList<>();
    CompletableFuture<?> done = source().runWith(Sink.foreach(seen::add), KIT.system()).toCompletableFuture();
    awaitTrue(() -> calls.size() == 1);
    Call call = calls.get(0);
    call.start();
    call.send(2);
    IllegalStateException boom = new IllegalStateException("boom");
    call.promise.completeExceptionally(new CompletionException(boom));
    ExecutionException e = assertThrows(ExecutionException.class, () -> done.get(10, TimeUnit.SECONDS));
    assertSame(boom, e.getCause());
    assertEquals(2, seen.size());
  }

  @Test
  void downstreamCancellingCancelsTheCall() throws Exception {
    CompletableFuture<List<Result>> two = source().take(2).runWith(Sink.seq(), KIT.system()).toCompletableFuture();
    awaitTrue(() -> calls.size() == 1);
    Call call = calls.get(0);
    call.start();
    call.send(5);
    assertEquals(2, two.get(10, TimeUnit.SECONDS).size());
    awaitTrue(() -> call.promise.isCancelled());
  }

  @Test
  void aRetriedCallIsAskedAnewForAWholeWindow() throws Exception {
    source().runWith(Sink.asPublisher(AsPublisher.WITHOUT_FANOUT), KIT.system()).subscribe(new ManualSubscriber());
    awaitTrue(() -> calls.size() == 1);
    Call call = calls.get(0);
    call.start();
    awaitTrue(() -> call.requested.get() == WINDOW);
    AtomicInteger again = new AtomicInteger();
    call.items.started(again::addAndGet);
    awaitTrue(() -> again.get() == WINDOW);
  }

  @Test
  void aWindowBelowTwoIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new CallSource("t", 1, (items, promise) -> {}));
    assertTrue(e.getMessage().contains("at least 2"), e.getMessage());
  }

  private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within 10 s");
      }
      Thread.sleep(10);
    }
  }

  /** A subscriber that asks for items only when the test says. */
  static final class ManualSubscriber implements Subscriber<Result> {
    volatile Subscription subscription;
    final AtomicInteger received = new AtomicInteger();
    volatile boolean completed;

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
    }

    @Override
    public void onNext(Result item) {
      assertInstanceOf(Result.class, item);
      received.incrementAndGet();
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onComplete() {
      completed = true;
    }
  }
}
