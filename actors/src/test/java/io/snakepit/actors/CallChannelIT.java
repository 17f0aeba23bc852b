package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitEvent;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** call-channel: multiplexed calls share one calls-socket connection per worker; unary ones are an RPC each, as before. */
class CallChannelIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("callchannel", """
      snakepit.pools.default { workers = 1, concurrency = 4 }
      snakepit.pools.unary { workers = 1, concurrency = 4, call-channel = unary }
      snakepit.pools.lane { workers = 1, concurrency = 2 }
      """, Duration.ofSeconds(60));
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
  }

  @Test
  void multiplexedIsTheDefaultAndManyCallsShareOneStreamServedByTheToolThreads() throws Exception {
    Set<String> threads = servingThreads(snakepit.pool("default"));
    assertTrue(threads.stream().allMatch(t -> t.startsWith("snakepit-tool")), threads::toString);
    // Every call of the batch saw exactly one stream being read: the same one carried them all.
    assertEquals(Set.of(1), streamCounts);
  }

  @Test
  void unaryMakesAnRpcPerCallAndOpensNoStream() throws Exception {
    Set<String> threads = servingThreads(snakepit.pool("unary"));
    assertTrue(threads.stream().allMatch(t -> t.startsWith("snakepit-rpc")), threads::toString);
    assertEquals(Set.of(0), streamCounts);
  }

  @Test
  void eachMultiplexedCallKeepsItsOwnDeadlineWhileOthersOnTheStreamFinish() throws Exception {
    Pool pool = snakepit.pool("default");
    CompletionStage<Result> late = pool.execute("sleep", "{\"seconds\": 30}",
        CallOptions.defaults().withTimeout(Duration.ofMillis(300)));
    CompletionStage<Result> quick = pool.execute("sleep_pid", "{\"seconds\": 0.5}");
    CallTimeoutException e = assertInstanceOf(CallTimeoutException.class, failure(late));
    assertTrue(e.getMessage().contains("within 300 ms"), e.getMessage());
    long pid = Long.parseLong(await(quick).json());
    assertEquals(pid, Long.parseLong(await(pool.execute("pid", "")).json()), "the worker was replaced");
  }

  @Test
  void aMultiplexedCallTakesTheShortWayAndEndsOnTheCallsSocketsThreadNotThroughTheWorkerActor() throws Exception {
    // The continuation is attached while the tool sleeps, so it runs on the thread that completes the stage.
    assertTrue(completingThread(snakepit.pool("default")).startsWith("snakepit-grpc-io"),
        "the pool's short way (WorkerPort) completes a call where its result frame arrives");
    String unary = completingThread(snakepit.pool("unary"));
    assertTrue(unary.contains("dispatcher") && !unary.startsWith("snakepit-grpc-io"),
        "an RPC's end goes through the worker actor: " + unary);
  }

  @Test
  void aCallToAFreeWorkerStartsOnTheCallersThreadAndCallsPastItsRoomWaitInThePoolAndAllEnd() throws Exception {
    Map<Long, String> startedOn = new ConcurrentHashMap<>();
    Events.Taps.of(NODE.kit().system()).add(event -> {
      if (event instanceof SnakepitEvent.CallStarted started && started.pool().equals("lane")) {
        startedOn.put(started.callId(), Thread.currentThread().getName());
      }
    });
    Pool pool = snakepit.pool("lane");
    await(pool.execute("pid", ""));
    String caller = Thread.currentThread().getName();
    // The worker is free: its room is lent to the pool's lane, and the call starts here, with no actor in between.
    await(pool.execute("pid", ""));
    assertTrue(startedOn.containsValue(caller), "a call to a free worker starts on the caller's thread: " + startedOn);
    // Four at once on room for two: two take the lane, two wait in the pool's queue and start from its actor.
    startedOn.clear();
    List<CompletionStage<Result>> calls = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      calls.add(pool.execute("sleep", "{\"seconds\": 0.3}"));
    }
    for (CompletionStage<Result> call : calls) {
      await(call);
    }
    assertEquals(4, startedOn.size(), startedOn::toString);
    assertEquals(2, startedOn.values().stream().filter(caller::equals).count(),
        "room for two: the other two start from the pool's actor once a call ends: " + startedOn);
    assertTrue(startedOn.values().stream().filter(t -> !t.equals(caller)).allMatch(t -> t.contains("dispatcher")),
        startedOn::toString);
  }

  private static String completingThread(Pool pool) throws Exception {
    return await(pool.execute("sleep", "{\"seconds\": 0.2}").thenApply(r -> Thread.currentThread().getName()));
  }

  private Set<Integer> streamCounts = new HashSet<>();

  private Set<String> servingThreads(Pool pool) throws Exception {
    List<CompletionStage<Result>> calls = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      calls.add(pool.execute("serving_thread", ""));
    }
    Set<String> threads = new HashSet<>();
    for (CompletionStage<Result> call : calls) {
      String json = await(call).json();
      threads.add(json.replaceAll(".*\"thread\": \"([^\"]+)\".*", "$1"));
      streamCounts.add(Integer.parseInt(json.replaceAll(".*\"streams\": (\\d+).*", "$1")));
    }
    return threads;
  }
}
