package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.google.protobuf.ByteString;
import com.typesafe.config.ConfigFactory;
import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.Result;
import io.snakepit.proto.ExecuteRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The caller's side of calls in parts, on a one-node cluster whose "other node" is a probe listed as a pool's
 * endpoint: a request over a frame goes as CallParts and a small one as one Call; ReplyParts join in any order; a
 * result in parts is dropped when its call is cancelled, its deadline passes or its node is lost; arguments over the
 * other node's max-message-size are refused, nothing sent.
 */
class ClusterPoolsPartsTest {
  private static final String NODE = "snakepit@127.0.0.1:1";
  private static ActorTestKit kit;
  private static ClusterPools pools;
  private static int partSize;

  @BeforeAll
  static void start() throws IOException {
    kit = OneNodeCluster.start(ConfigFactory.parseString(ClusterPools.PARTS_TIMEOUT + " = 2s")).kit();
    pools = ClusterPools.start(kit.system(), List.of());
    partSize = pools.frameLimit() - ClusterPools.ENVELOPE;
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** A pool {@code name} served by {@code endpoint} alone, reporting {@code maxMessageSize}. */
  private static void serve(String name, ActorRef<PoolEndpoint.Command> endpoint, int maxMessageSize) {
    pools.reported(NODE, Map.of(name, new PoolLoad(0, 1, maxMessageSize)));
    pools.listed(name, Map.of(NODE, endpoint), Map.of(NODE, endpoint));
  }

  private static ExecuteRequest request(int payload) {
    byte[] b = new byte[payload];
    new Random(payload).nextBytes(b);
    return ExecuteRequest.newBuilder().setTool("echo").setPayload(ByteString.copyFrom(b)).setHasPayload(true).build();
  }

  /** The parts {@code endpoint} got of one call, joined. */
  private static PoolEndpoint.Call received(TestProbe<PoolEndpoint.Command> endpoint) {
    PoolEndpoint.CallPart first = endpoint.expectMessageClass(PoolEndpoint.CallPart.class, Duration.ofSeconds(5));
    Parts.Joining joining = new Parts.Joining(first.count(), Integer.MAX_VALUE);
    byte[] whole = joining.add(first.index(), first.count(), first.call().request());
    while (whole == null) {
      PoolEndpoint.CallPart p = endpoint.expectMessageClass(PoolEndpoint.CallPart.class, Duration.ofSeconds(5));
      assertEquals(first.call().callId(), p.call().callId());
      whole = joining.add(p.index(), p.count(), p.call().request());
    }
    PoolEndpoint.Call c = first.call();
    return new PoolEndpoint.Call(c.callId(), whole, c.timeoutNanos(), c.idempotent(), c.session(), c.affinity(),
        c.replyTo());
  }

  private static List<PoolDirectory.ReplyPart> replyParts(String callId, String pool, byte[] result) {
    List<byte[]> parts = Parts.split(result, partSize);
    return java.util.stream.IntStream.range(0, parts.size()).mapToObj(i -> new PoolDirectory.ReplyPart(
        new PoolDirectory.Reply(callId, parts.get(i), true, null, pool, NODE, new PoolLoad(0, 1, 64 << 20)), i,
        parts.size())).toList();
  }

  private static Throwable failure(CompletableFuture<Result> promise) throws Exception {
    try {
      promise.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("the call did not fail");
  }

  @Test
  void aLargeRequestGoesInPartsASmallOneWholeAndReplyPartsJoinInAnyOrder() throws Exception {
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    serve("join", endpoint.getRef(), 64 << 20);
    ExecuteRequest small = request(partSize - 100);
    CompletableFuture<Result> smallCall = new CompletableFuture<>();
    pools.submit("join", small, CallOptions.defaults(), smallCall, null);
    PoolEndpoint.Call one = endpoint.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    assertArrayEquals(small.toByteArray(), one.request());

    ExecuteRequest large = request(3 * partSize + 17);
    CompletableFuture<Result> largeCall = new CompletableFuture<>();
    pools.submit("join", large, CallOptions.defaults(), largeCall, null);
    PoolEndpoint.Call call = received(endpoint);
    assertArrayEquals(large.toByteArray(), call.request());

    byte[] result = large.getPayload().toByteArray();
    List<PoolDirectory.ReplyPart> parts = replyParts(call.callId(), "join", result);
    assertEquals(4, parts.size());
    for (int i : new int[] {2, 0, 3}) {
      pools.repliedPart(parts.get(i));
    }
    assertFalse(largeCall.isDone());
    assertEquals(1, pools.resultsInParts());
    pools.repliedPart(parts.get(1));
    assertArrayEquals(result, largeCall.get(5, TimeUnit.SECONDS).bytes());
    assertEquals(0, pools.resultsInParts());
    pools.replied(new PoolDirectory.Reply(one.callId(), new byte[] {1}, true, null, "join", NODE, null));
    assertArrayEquals(new byte[] {1}, smallCall.get(5, TimeUnit.SECONDS).bytes());
  }

  @Test
  void aResultInPartsIsDroppedWhenItsCallIsCancelledAndLatePartsAnswerNothing() throws Exception {
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    serve("cancel", endpoint.getRef(), 64 << 20);
    CompletableFuture<Result> promise = new CompletableFuture<>();
    pools.submit("cancel", request(10), CallOptions.defaults(), promise, null);
    PoolEndpoint.Call call = endpoint.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    List<PoolDirectory.ReplyPart> parts = replyParts(call.callId(), "cancel", new byte[3 * partSize]);
    pools.repliedPart(parts.get(0));
    assertEquals(1, pools.resultsInParts());
    promise.cancel(true);
    assertEquals(0, pools.resultsInParts());
    endpoint.expectMessageClass(PoolEndpoint.Cancel.class, Duration.ofSeconds(5));
    pools.repliedPart(parts.get(1));
    pools.repliedPart(parts.get(2));
    assertEquals(0, pools.resultsInParts());
  }

  @Test
  void aResultInPartsPastItsCallsDeadlineIsDroppedWithCallTimeout() throws Exception {
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    serve("deadline", endpoint.getRef(), 64 << 20);
    CompletableFuture<Result> promise = new CompletableFuture<>();
    pools.submit("deadline", request(10), CallOptions.defaults().withTimeout(Duration.ofMillis(300)), promise, null);
    PoolEndpoint.Call call = endpoint.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    pools.repliedPart(replyParts(call.callId(), "deadline", new byte[2 * partSize]).get(1));
    Throwable e = failure(promise);
    assertInstanceOf(CallTimeoutException.class, e);
    assertTrue(e.getMessage().contains("passed its deadline of 300 ms when only 1 of 2 parts of its result ("
        + partSize + " bytes) arrived"), e.getMessage());
    assertEquals(0, pools.resultsInParts());
  }

  /** Artery may drop a part: a call without a deadline does not wait for it past parts-timeout (2 s here). */
  @Test
  void aResultInPartsWithoutADeadlineWhosePartWasLostEndsAtThePartsTimeout() throws Exception {
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    serve("lost-part", endpoint.getRef(), 64 << 20);
    CompletableFuture<Result> promise = new CompletableFuture<>();
    pools.submit("lost-part", request(10), CallOptions.defaults(), promise, null);
    PoolEndpoint.Call call = endpoint.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    List<PoolDirectory.ReplyPart> parts = replyParts(call.callId(), "lost-part", new byte[3 * partSize]);
    pools.repliedPart(parts.get(0));
    pools.repliedPart(parts.get(2)); // part 1 lost on the way
    Throwable e = failure(promise);
    assertInstanceOf(CallTimeoutException.class, e);
    assertTrue(e.getMessage().contains("only 2 of 3 parts of its result") && e.getMessage().contains(
        ClusterPools.PARTS_TIMEOUT + " = 2000 ms") && e.getMessage().contains("the tool ran there"), e.getMessage());
    assertEquals(0, pools.resultsInParts());
  }

  @Test
  void aResultInPartsIsDroppedWhenItsNodeIsLostAndTheIdempotentCallGoesOnElsewhere() throws Exception {
    TestProbe<PoolEndpoint.Command> first = kit.createTestProbe(PoolEndpoint.Command.class);
    TestProbe<PoolEndpoint.Command> second = kit.createTestProbe(PoolEndpoint.Command.class);
    String other = "snakepit@127.0.0.1:2";
    pools.reported(NODE, Map.of("lost", new PoolLoad(0, 1, 64 << 20)));
    pools.reported(other, Map.of("lost", new PoolLoad(5, 1, 64 << 20))); // busier: the call goes to the first
    pools.listed("lost", Map.of(NODE, first.getRef(), other, second.getRef()),
        Map.of(NODE, first.getRef(), other, second.getRef()));
    CompletableFuture<Result> promise = new CompletableFuture<>();
    pools.submit("lost", request(10), CallOptions.defaults().withIdempotent(true), promise, null);
    PoolEndpoint.Call call = first.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    pools.repliedPart(replyParts(call.callId(), "lost", new byte[2 * partSize]).get(0));
    assertEquals(1, pools.resultsInParts());
    pools.listed("lost", Map.of(other, second.getRef()), Map.of(other, second.getRef()));
    // Sent again to the other node, still waited for: the lost node's half result is gone.
    PoolEndpoint.Call again = second.expectMessageClass(PoolEndpoint.Call.class, Duration.ofSeconds(5));
    assertFalse(promise.isDone());
    assertEquals(0, pools.resultsInParts());
    pools.listed("lost", Map.of(), Map.of());
    assertInstanceOf(io.snakepit.PoolUnavailableException.class, failure(promise), "sent again: " + again);
    assertEquals(0, pools.resultsInParts());
  }

  @Test
  void argumentsOverTheOtherNodesMaxMessageSizeAreRefusedAndNothingIsSent() throws Exception {
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    int max = 2 * partSize;
    serve("small", endpoint.getRef(), max);
    CompletableFuture<Result> promise = new CompletableFuture<>();
    ExecuteRequest request = request(max);
    pools.submit("small", request, CallOptions.defaults(), promise, null);
    Throwable e = failure(promise);
    assertInstanceOf(MessageTooLargeException.class, e);
    assertTrue(e.getMessage().contains("are " + request.getSerializedSize() + " bytes") && e.getMessage().contains(
        "over pool 'small''s max-message-size of " + max + " bytes") && e.getMessage().contains("nothing was sent")
        && e.getMessage().endsWith("raise snakepit.pools.small.max-message-size"), e.getMessage());
    endpoint.expectNoMessage(Duration.ofMillis(200));
  }
}
