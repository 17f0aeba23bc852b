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
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** call-channel: multiplexed calls share one calls-socket connection per worker; unary ones are an RPC each, as before. */
class CallChannelIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("callchannel", """
      snakepit.pools.default { workers = 1, concurrency = 4 }
      snakepit.pools.unary { workers = 1, concurrency = 4, call-channel = unary }
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
