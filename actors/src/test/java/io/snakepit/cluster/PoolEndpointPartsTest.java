package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import io.snakepit.CallTimeoutException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.Result;
import io.snakepit.proto.ExecuteRequest;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A pool's endpoint joins a request that came in parts, in any order, and runs it once; drops a request in parts when
 * its call is cancelled, its deadline passes or it comes to more than the pool's max-message-size; and answers a
 * result larger than a frame in parts. The pool behind it is a function that echoes the payload back.
 */
class PoolEndpointPartsTest {
  private static final int FRAME = ClusterPools.ENVELOPE + 1000;
  private static final int MAX = 20_000;
  private static final ActorTestKit kit = ActorTestKit.create();
  private static final LinkedBlockingQueue<ExecuteRequest> ran = new LinkedBlockingQueue<>();

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  private static ActorRef<PoolEndpoint.Command> endpoint() {
    return kit.spawn(PoolEndpoint.create(pool(), "snakepit@127.0.0.1:1", FRAME));
  }

  private static ClusterPools.Local pool() {
    return new ClusterPools.Local("p", () -> 1, MAX, Duration.ofMinutes(1), (request, options) -> {
      ran.add(request);
      return CompletableFuture.completedFuture(Result.ofBytes(request.getPayload().toByteArray()));
    }, (request, options, items, promise) -> promise.completeExceptionally(new AssertionError("no stream here")),
        session -> CompletableFuture.completedFuture(-1L));
  }

  private static byte[] request(int payload) {
    byte[] b = new byte[payload];
    new Random(payload).nextBytes(b);
    return ExecuteRequest.newBuilder().setTool("echo").setPayload(com.google.protobuf.ByteString.copyFrom(b)).build()
        .toByteArray();
  }

  private static PoolEndpoint.CallPart part(String id, List<byte[]> parts, int i, long timeoutNanos,
      ActorRef<PoolDirectory.Command> replyTo) {
    return new PoolEndpoint.CallPart(new PoolEndpoint.Call(id, parts.get(i), timeoutNanos, false, null, null, replyTo),
        i, parts.size());
  }

  @Test
  void partsInAnyOrderRunTheCallOnceAndALargeResultComesBackInParts() throws Exception {
    ran.clear();
    ActorRef<PoolEndpoint.Command> endpoint = endpoint();
    TestProbe<PoolDirectory.Command> caller = kit.createTestProbe(PoolDirectory.Command.class);
    byte[] request = request(5000);
    List<byte[]> parts = Parts.split(request, FRAME - ClusterPools.ENVELOPE);
    assertEquals(6, parts.size());
    for (int i : new int[] {3, 0, 5, 1, 4, 2}) {
      endpoint.tell(part("r1", parts, i, 0, caller.getRef()));
    }
    ExecuteRequest got = ran.poll(10, TimeUnit.SECONDS);
    assertArrayEquals(request, got.toByteArray());
    // The 5000-byte result is over a frame: it comes back in parts, which join to it.
    Parts.Joining joining = null;
    byte[] whole = null;
    for (int n = 0; whole == null; n++) {
      PoolDirectory.ReplyPart rp = caller.expectMessageClass(PoolDirectory.ReplyPart.class, Duration.ofSeconds(10));
      assertEquals("r1", rp.reply().callId());
      assertTrue(rp.reply().bytes());
      joining = joining == null ? new Parts.Joining(rp.count(), MAX) : joining;
      whole = joining.add(rp.index(), rp.count(), rp.reply().value());
      assertTrue(n < 10);
    }
    assertArrayEquals(got.getPayload().toByteArray(), whole);
    assertNull(ran.poll(200, TimeUnit.MILLISECONDS), "the call ran twice");
  }

  @Test
  void aCancelledRequestInPartsIsDroppedAndItsLateLastPartRunsNothing() throws Exception {
    ran.clear();
    ActorRef<PoolEndpoint.Command> endpoint = endpoint();
    TestProbe<PoolDirectory.Command> caller = kit.createTestProbe(PoolDirectory.Command.class);
    List<byte[]> parts = Parts.split(request(3000), FRAME - ClusterPools.ENVELOPE);
    for (int i = 0; i < parts.size() - 1; i++) {
      endpoint.tell(part("r2", parts, i, 0, caller.getRef()));
    }
    endpoint.tell(new PoolEndpoint.Cancel("r2", caller.getRef()));
    endpoint.tell(part("r2", parts, parts.size() - 1, 0, caller.getRef()));
    assertNull(ran.poll(500, TimeUnit.MILLISECONDS), "a cancelled call ran");
    caller.expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aRequestInPartsIsDroppedWhenItsCallerStops() throws Exception {
    // A caller's directory stops when its node is lost: the endpoint watches it.
    ran.clear();
    ActorRef<PoolEndpoint.Command> endpoint = endpoint();
    TestProbe<PoolDirectory.Command> caller = kit.createTestProbe(PoolDirectory.Command.class);
    List<byte[]> parts = Parts.split(request(3000), FRAME - ClusterPools.ENVELOPE);
    for (int i = 0; i < parts.size() - 1; i++) {
      endpoint.tell(part("r5", parts, i, 0, caller.getRef()));
    }
    caller.stop();
    Thread.sleep(300); // the endpoint hears of it
    endpoint.tell(part("r5", parts, parts.size() - 1, 0, caller.getRef()));
    assertNull(ran.poll(500, TimeUnit.MILLISECONDS), "the call of a lost caller ran");
    // The same parts from a live caller do run.
    TestProbe<PoolDirectory.Command> other = kit.createTestProbe(PoolDirectory.Command.class);
    for (int i = 0; i < parts.size(); i++) {
      endpoint.tell(part("r5", parts, i, 0, other.getRef()));
    }
    assertArrayEquals(request(3000), ran.poll(10, TimeUnit.SECONDS).toByteArray());
  }

  @Test
  void aRequestInPartsPastItsDeadlineIsDroppedWithCallTimeout() throws Exception {
    ran.clear();
    ActorRef<PoolEndpoint.Command> endpoint = endpoint();
    TestProbe<PoolDirectory.Command> caller = kit.createTestProbe(PoolDirectory.Command.class);
    List<byte[]> parts = Parts.split(request(3000), FRAME - ClusterPools.ENVELOPE);
    endpoint.tell(part("r3", parts, 0, Duration.ofMillis(300).toNanos(), caller.getRef()));
    PoolDirectory.Reply reply = caller.expectMessageClass(PoolDirectory.Reply.class, Duration.ofSeconds(10));
    Throwable e = reply.error().toException(reply.node());
    assertInstanceOf(CallTimeoutException.class, e);
    assertTrue(e.getMessage().contains("passed when only 1 of 4 parts of its arguments"), e.getMessage());
    // Its other parts, late, are dropped as they come: no run, no second answer.
    for (int i = 1; i < parts.size(); i++) {
      endpoint.tell(part("r3", parts, i, Duration.ofMillis(300).toNanos(), caller.getRef()));
    }
    caller.expectNoMessage(Duration.ofMillis(600));
    assertNull(ran.poll(10, TimeUnit.MILLISECONDS), "a call past its deadline ran");
    // Once its last part came, nothing is left of it: the same call id whole runs.
    for (int i = 0; i < parts.size(); i++) {
      endpoint.tell(part("r3", parts, i, 0, caller.getRef()));
    }
    assertEquals(3000, ran.poll(10, TimeUnit.SECONDS).getPayload().size());
  }

  /** Artery may drop a part: a call without a deadline does not wait for it past parts-timeout. */
  @Test
  void aRequestInPartsWithoutADeadlineWhosePartWasLostEndsAtThePartsTimeout() throws Exception {
    ran.clear();
    ActorTestKit shortParts = ActorTestKit.create(com.typesafe.config.ConfigFactory.parseString(
        ClusterPools.PARTS_TIMEOUT + " = 300ms").withFallback(com.typesafe.config.ConfigFactory.load()));
    try {
      ActorRef<PoolEndpoint.Command> endpoint = shortParts.spawn(PoolEndpoint.create(pool(), "snakepit@127.0.0.1:1",
          FRAME));
      TestProbe<PoolDirectory.Command> caller = shortParts.createTestProbe(PoolDirectory.Command.class);
      List<byte[]> parts = Parts.split(request(3000), FRAME - ClusterPools.ENVELOPE);
      for (int i = 0; i < parts.size() - 1; i++) { // the last part lost on the way
        endpoint.tell(part("r5", parts, i, 0, caller.getRef()));
      }
      PoolDirectory.Reply reply = caller.expectMessageClass(PoolDirectory.Reply.class, Duration.ofSeconds(10));
      Throwable e = reply.error().toException(reply.node());
      assertInstanceOf(CallTimeoutException.class, e);
      assertTrue(e.getMessage().contains("only 3 of 4 parts of its arguments") && e.getMessage().contains(
          ClusterPools.PARTS_TIMEOUT + " = 300 ms") && e.getMessage().contains("nothing ran"), e.getMessage());
      assertNull(ran.poll(300, TimeUnit.MILLISECONDS), "a call whose part was lost ran");
    } finally {
      shortParts.shutdownTestKit();
    }
  }

  @Test
  void aRequestInPartsOverThePoolsMaxMessageSizeIsRefusedUnrun() throws Exception {
    ran.clear();
    ActorRef<PoolEndpoint.Command> endpoint = endpoint();
    TestProbe<PoolDirectory.Command> caller = kit.createTestProbe(PoolDirectory.Command.class);
    List<byte[]> parts = Parts.split(request(MAX + 5000), FRAME - ClusterPools.ENVELOPE);
    assertTrue(parts.size() > MAX / (FRAME - ClusterPools.ENVELOPE) + 3, "parts come after the refusal");
    for (int i = 0; i < parts.size(); i++) {
      endpoint.tell(part("r4", parts, i, 0, caller.getRef()));
    }
    PoolDirectory.Reply reply = caller.expectMessageClass(PoolDirectory.Reply.class, Duration.ofSeconds(10));
    Throwable e = reply.error().toException(reply.node());
    assertInstanceOf(MessageTooLargeException.class, e);
    assertTrue(e.getMessage().contains("max-message-size of " + MAX), e.getMessage());
    assertNull(ran.poll(300, TimeUnit.MILLISECONDS), "a call over max-message-size ran");
    caller.expectNoMessage(Duration.ofMillis(100));
    // Its parts after the refusal were dropped as they came, leaving nothing: a small request of the same id runs.
    List<byte[]> small = Parts.split(request(2500), FRAME - ClusterPools.ENVELOPE);
    for (int i = 0; i < small.size(); i++) {
      endpoint.tell(part("r4", small, i, 0, caller.getRef()));
    }
    assertEquals(2500, ran.poll(10, TimeUnit.SECONDS).getPayload().size());
  }
}
