package io.snakepit.cluster;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static io.snakepit.testing.GeneratorProgress.progress;
import static io.snakepit.testing.GeneratorProgress.settledCount;
import static io.snakepit.testing.GeneratorProgress.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Cluster;
import akka.remote.RARP;
import akka.remote.RARP$;
import akka.remote.transport.ThrottlerTransportAdapter;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.SinkQueueWithCancel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.NodeLostException;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming calls across nodes: two clustered nodes in this JVM, "edge" without pool "flow" and "server" with it (one
 * real worker of the test adapter, whose generator writes its progress to a file). Every stream here is made on edge
 * and served by server's worker: its items arrive in order, a slow consumer holds the remote generator back, taking a
 * few cancels the call on server, the deadline and an item over the frame end it with typed errors, and, last, the
 * loss of server fails the stream in flight with {@link NodeLostException} (an idempotent one is sent again).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterStreamsIT {
  /** The test adapter's directory, put on the pool's python-path (failsafe runs in the module's directory). */
  private static final Path ADAPTERS = Path.of("src/test/python").toAbsolutePath();
  /** As in TypedApiIT: how far ahead of its consumer a generator of 4 KiB items may get, through gRPC's windows. */
  private static final int BOUND = 2_500;
  private static final ObjectMapper JSON = new ObjectMapper();

  private static ActorTestKit edge;
  private static ActorTestKit server;
  private static Address serverAddress;
  private static Pool pool;

  @TempDir
  Path dir;

  @BeforeAll
  static void start() throws Exception {
    List<Integer> ports = new ArrayList<>(List.of(freePort(), freePort()));
    ports.sort(null); // keep-majority keeps the side with the lowest address on a tie: edge's, the caller's
    List<ClusterSettings.Seed> seeds = ports.stream().map(p -> new ClusterSettings.Seed("127.0.0.1", p)).toList();
    edge = node(ports.get(0), seeds, "");
    server = node(ports.get(1), seeds, "snakepit.pools.flow { workers = 1, adapter ="
        + " \"snakepit_flow_adapter:FlowAdapter\", python-path = [\"" + ADAPTERS + "\"] }\n");
    serverAddress = Cluster.get(Adapter.toClassic(server.system())).selfAddress();
    Snakepit.get(edge.system()).ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
    Snakepit.get(server.system()).ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
    // Edge serves pool "flow" once it has heard of server's: a call through it answers.
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      try {
        pool = Snakepit.get(edge.system()).pool("flow");
        await(pool.execute("points", "{\"n\": 1}"));
        break;
      } catch (Exception e) {
        assertTrue(System.nanoTime() < until, "edge did not serve pool flow within 60 s: " + e);
        Thread.sleep(200);
      }
    }
    assertTrue(Snakepit.get(edge.system()).pools().get("flow") == null, "edge runs pool flow itself");
  }

  private static ActorTestKit node(int port, List<ClusterSettings.Seed> seeds, String pools) throws IOException {
    ClusterSettings settings = new ClusterSettings("127.0.0.1", port, seeds, Duration.ofSeconds(30), false, null);
    String overrides = "snakepit.registry.enabled = off\n"
        + "snakepit.data-dir = \"" + Files.createTempDirectory("snakepit-streams") + "\"\n"
        + "snakepit.pools.default.workers = 1\n"
        + pools
        + "akka.remote.artery.advanced.test-mode = on\n"
        + "akka.cluster.split-brain-resolver.stable-after = 2s\n";
    return ActorTestKit.create("snakepit", settings.over(TestNodes.config(overrides), "snakepit"));
  }

  @AfterAll
  static void stop() {
    for (ActorTestKit kit : new ActorTestKit[] {edge, server}) {
      if (kit != null) {
        kit.shutdownTestKit();
      }
    }
  }

  @Test
  @Order(1)
  void aRemoteStreamsItemsArriveInOrderAndItsFailureAfterThem() throws Exception {
    Path progress = dir.resolve("ordered");
    List<Result> items = await(pool.stream("produce", produceJson(300, 16, progress)).runWith(Sink.seq(),
        edge.system()));
    assertEquals(300, items.size());
    for (int i = 0; i < items.size(); i++) {
      assertEquals(i, JSON.readTree(items.get(i).json()).get("i").asInt());
    }
    assertEquals("300 finished", progress(progress));

    // The callback form (the gateway's ExecuteStream uses it) gets the same items, in order.
    List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
    await(pool.executeStream("produce", JSON.writeValueAsString(produce(100, 16, dir.resolve("callback"))),
        item -> seen.add(index(item))));
    assertEquals(java.util.stream.IntStream.range(0, 100).boxed().toList(), seen);

    // A session's stream goes to the session's node (its sharded binding), server's.
    List<Result> inSession = await(pool.stream("produce", produceJson(20, 1, dir.resolve("session")),
        CallOptions.defaults().withSession("streamer", io.snakepit.Affinity.STRICT_QUEUE)).runWith(Sink.seq(),
        edge.system()));
    assertEquals(java.util.stream.IntStream.range(0, 20).boxed().toList(),
        inSession.stream().map(ClusterStreamsIT::index).toList());
    assertEquals("20 finished", progress(dir.resolve("session")));

    // The tool's failure comes typed, after the items yielded before it.
    List<Integer> before = Collections.synchronizedList(new ArrayList<>());
    Throwable e = failure(pool.stream("produce", JSON.writeValueAsString(Map.of("count", 50, "size", 1, "progress",
        dir.resolve("failed").toString(), "fail_after", 7))).runWith(Sink.foreach(r -> before.add(index(r))),
        edge.system()));
    PythonException py = assertInstanceOf(PythonException.class, e);
    assertEquals("ValueError", py.pythonType());
    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6), before);
  }

  @Test
  @Order(2)
  void aSlowConsumerHoldsTheRemoteGeneratorBack() throws Exception {
    int count = 20_000;
    Path progress = dir.resolve("paused");
    SinkQueueWithCancel<Result> queue = pool.stream("produce", produceJson(count, 4096, progress),
        CallOptions.defaults().withTimeout(Duration.ofMinutes(5))).runWith(Sink.queue(), edge.system());
    for (int i = 0; i < 10; i++) {
      assertEquals(i, index(pull(queue)));
    }
    int paused = settledCount(progress);
    System.out.println("ClusterStreamsIT: with the consumer on the other node paused after 10 items, the generator"
        + " stopped at " + paused + " items of 4 KiB");
    assertTrue(paused < BOUND, "the generator ran on to " + paused + " items while the consumer took 10");
    assertTrue(progress(progress).endsWith("running"), progress(progress));
    long resumed = System.nanoTime();
    for (int i = 10; i < count; i++) {
      assertEquals(i, index(pull(queue)));
    }
    assertEquals(Optional.empty(), queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS));
    System.out.println("ClusterStreamsIT: " + (count - 10) + " items of 4 KiB from the other node in "
        + (System.nanoTime() - resumed) / 1_000_000 + " ms");
    assertEquals(count + " finished", progress(progress));
  }

  @Test
  @Order(3)
  void takingFiveCancelsTheCallOnTheServingNodeAndItsWorkerServesTheNext() throws Exception {
    Path progress = dir.resolve("taken");
    List<Result> five = await(pool.stream("produce", produceJson(100_000, 4096, progress)).take(5)
        .runWith(Sink.seq(), edge.system()));
    assertEquals(List.of(0, 1, 2, 3, 4), five.stream().map(ClusterStreamsIT::index).toList());
    String end = waitFor(progress, s -> s.contains("closed"));
    System.out.println("ClusterStreamsIT: after take(5) on the other node, the generator ended as: " + end);
    assertTrue(end.endsWith("closed cancelled=True"), end);
    assertTrue(Integer.parseInt(end.split(" ")[0]) < BOUND, end);
    // The pool's only worker is free again.
    assertEquals("[{\"x\":0,\"y\":0}]", await(pool.execute("points", "{\"n\": 1}")).json().replace(" ", ""));
  }

  @Test
  @Order(4)
  void theDeadlineCoversTheWholeRemoteStreamAndAnItemOverTheFrameFailsNamingTheSetting() throws Exception {
    Path progress = dir.resolve("deadline");
    SinkQueueWithCancel<Result> queue = pool.stream("produce", produceJson(100_000, 4096, progress),
        CallOptions.defaults().withTimeout(Duration.ofSeconds(2))).runWith(Sink.queue(), edge.system());
    assertEquals(0, index(pull(queue)));
    Thread.sleep(2500); // the consumer does not pull: the deadline passes on the serving node
    Throwable late = null;
    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (late == null && System.nanoTime() < until) {
      try {
        queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        late = e.getCause();
      }
    }
    assertInstanceOf(CallTimeoutException.class, late);
    assertTrue(waitFor(progress, s -> s.contains("closed")).endsWith("cancelled=True"), progress(progress));

    List<Integer> before = Collections.synchronizedList(new ArrayList<>());
    Throwable big = failure(pool.stream("produce", produceJson(3, 300_000, dir.resolve("big")))
        .runWith(Sink.foreach(r -> before.add(index(r))), edge.system()));
    MessageTooLargeException e = assertInstanceOf(MessageTooLargeException.class, big);
    assertTrue(e.getMessage().contains(ClusterPools.FRAME_SETTING) && e.getMessage().contains("an item of the stream"),
        e.getMessage());
    assertEquals(List.of(), before);
    assertEquals("[{\"x\":0,\"y\":0}]", await(pool.execute("points", "{\"n\": 1}")).json().replace(" ", ""));
  }

  @Test
  @Order(5)
  void theLossOfTheServingNodeFailsTheStreamInFlightNamingIt() throws Exception {
    Path progress = dir.resolve("lost");
    SinkQueueWithCancel<Result> queue = pool.stream("produce", produceJson(100_000, 4096, progress),
        CallOptions.defaults().withTimeout(Duration.ofMinutes(5))).runWith(Sink.queue(), edge.system());
    for (int i = 0; i < 3; i++) {
      assertEquals(i, index(pull(queue)));
    }
    // An idempotent stream, queued behind it on server's one worker: it is started again elsewhere, and with no
    // other node of the pool left, that fails as a new call would.
    java.util.concurrent.CompletionStage<Void> idempotent = pool.executeStream("produce", produceJson(10, 1,
        dir.resolve("idempotent")), CallOptions.defaults().withIdempotent(true), item -> { });
    Thread.sleep(500);
    // Scala's nested case object Direction.Both has no name javac can reach.
    ThrottlerTransportAdapter.Direction both = (ThrottlerTransportAdapter.Direction) Class.forName(
        "akka.remote.transport.ThrottlerTransportAdapter$Direction$Both$").getField("MODULE$").get(null);
    ((RARP) RARP$.MODULE$.get(Adapter.toClassic(edge.system()))).provider().transport().managementCommand(
        new ThrottlerTransportAdapter.SetThrottle(serverAddress, both, ThrottlerTransportAdapter.Blackhole$.MODULE$));
    long cutAt = System.nanoTime();
    Throwable lost = null;
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (lost == null && System.nanoTime() < until) {
      try {
        queue.pull().toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        lost = e.getCause();
      }
    }
    NodeLostException e = assertInstanceOf(NodeLostException.class, lost);
    String name = ClusterPools.nodeName(serverAddress);
    assertEquals(name, e.node());
    assertTrue(e.getMessage().contains("node " + name + " was lost") && e.getMessage().contains("withIdempotent(true)"),
        e.getMessage());
    Throwable again = failure(idempotent, Duration.ofSeconds(30));
    assertInstanceOf(io.snakepit.PoolUnavailableException.class, again);
    assertTrue(again.getMessage().contains("no node of the cluster serves pool 'flow'"), again.getMessage());
    System.out.println("ClusterStreamsIT: the stream from the lost node failed " + (System.nanoTime() - cutAt)
        / 1_000_000 + " ms after the cut");
    // The server downed itself (the minority of a tie): its system stops, and its worker with it.
    assertTrue(server.system().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS) != null);
  }

  private static Map<String, Object> produce(int count, int size, Path progress) {
    return Map.of("count", count, "size", size, "progress", progress.toString());
  }

  private static String produceJson(int count, int size, Path progress) throws Exception {
    return JSON.writeValueAsString(produce(count, size, progress));
  }

  private static int index(Result item) {
    try {
      JsonNode node = JSON.readTree(item.json());
      return node.get("i").asInt();
    } catch (IOException e) {
      throw new AssertionError("an item is not JSON: " + item.json(), e);
    }
  }

  private static Result pull(SinkQueueWithCancel<Result> queue) throws Exception {
    return queue.pull().toCompletableFuture().get(30, TimeUnit.SECONDS).orElseThrow();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
