package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.PoolSaturatedException;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.UnknownToolException;
import io.snakepit.WorkerCallException;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Calls through real Python workers: results, streams, and each kind of error a caller can get. */
class PoolRoundTripIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("roundtrip", """
      snakepit.pools.default.workers = 2
      snakepit.pools.single { workers = 1, queue-capacity = 1 }
      """, Duration.ofSeconds(60));
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
  }

  @Test
  void executeReturnsTheToolsJsonResult() throws Exception {
    assertEquals("{\"greeting\": \"hello\", \"n\": 3}",
        await(snakepit.execute("echo", "{\"greeting\": \"hello\", \"n\": 3}")).json());
    assertEquals("\"pong\"", await(snakepit.execute("ping", null)).json());
  }

  @Test
  void rawBytesTravelBothWaysUnchanged() throws Exception {
    byte[] payload = {0, 1, 2, (byte) 0xff, 10, 13};
    Result r = await(snakepit.pool("default").execute("echo", "{}", payload));
    assertTrue(r.isBytes());
    assertArrayEquals(payload, r.bytes());
  }

  @Test
  void executeStreamDeliversEveryItemInOrder() throws Exception {
    List<String> items = new ArrayList<>();
    await(snakepit.executeStream("stream", "{\"count\": 5}", r -> items.add(r.json())));
    assertEquals(List.of("{\"i\": 0}", "{\"i\": 1}", "{\"i\": 2}", "{\"i\": 3}", "{\"i\": 4}"), items);
  }

  @Test
  void unknownToolNamesTheToolAndTheToolsThatExist() throws Exception {
    UnknownToolException e = assertInstanceOf(UnknownToolException.class,
        failure(snakepit.execute("no_such_tool", "{}")));
    assertEquals("no_such_tool", e.tool());
    assertTrue(e.available().containsAll(List.of("echo", "ping", "sleep", "fail", "stream")), e.available()::toString);
    assertTrue(e.getMessage().contains("no_such_tool") && e.getMessage().contains("echo"), e.getMessage());
  }

  @Test
  void pythonExceptionArrivesWithTypeMessageAndTraceback() throws Exception {
    PythonException e = assertInstanceOf(PythonException.class,
        failure(snakepit.execute("fail", "{\"message\": \"bad input 42\", \"kind\": \"KeyError\"}")));
    assertEquals("KeyError", e.pythonType());
    assertTrue(e.pythonMessage().contains("bad input 42"), e.pythonMessage());
    assertTrue(e.traceback().contains("Traceback") && e.traceback().contains("raise"), e.traceback());
  }

  @Test
  void streamThatRaisesFailsAfterItsItems() throws Exception {
    List<String> items = new ArrayList<>();
    Throwable e = failure(snakepit.executeStream("stream", "{\"count\": 5, \"fail_after\": 2}", r -> items.add(r.json())));
    assertEquals(2, items.size());
    assertInstanceOf(PythonException.class, e);
  }

  @Test
  void argumentsThatAreNotJsonAreAClearErrorAndNothingCrashes() throws Exception {
    int before = Integer.parseInt(await(snakepit.execute("pid", "{}")).json());
    InvalidArgumentsException e = assertInstanceOf(InvalidArgumentsException.class,
        failure(snakepit.execute("echo", "{not json")));
    assertTrue(e.getMessage().toLowerCase().contains("json"), e.getMessage());
    assertInstanceOf(InvalidArgumentsException.class, failure(snakepit.execute("echo", "[1, 2]")));
    List<Integer> pids = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      pids.add(Integer.parseInt(await(snakepit.execute("pid", "{}")).json()));
    }
    assertTrue(pids.contains(before), "the same workers still serve: " + pids + " vs " + before);
  }

  @Test
  void concurrentCallsSpreadOverIdleWorkers() throws Exception {
    CompletableFuture<Result> a = snakepit.execute("sleep_pid", "{\"seconds\": 0.5}").toCompletableFuture();
    CompletableFuture<Result> b = snakepit.execute("sleep_pid", "{\"seconds\": 0.5}").toCompletableFuture();
    assertNotEquals(await(a).json(), await(b).json(), "two concurrent calls ran on one worker");
  }

  @Test
  void callsPastTheQueueBoundFailWithPoolSaturated() throws Exception {
    var single = snakepit.pool("single");
    await(single.ready());
    CompletionStage<Result> running = single.execute("sleep", "{\"seconds\": 1.5}");
    Thread.sleep(200);
    CompletionStage<Result> queued = single.execute("sleep", "{\"seconds\": 0.01}");
    PoolSaturatedException e = assertInstanceOf(PoolSaturatedException.class,
        failure(single.execute("ping", "{}")));
    assertTrue(e.getMessage().contains("single") && e.getMessage().contains("queue-capacity"), e.getMessage());
    assertEquals("1.5", await(running).json());
    assertEquals("0.01", await(queued).json());
  }

  @Test
  void unknownPoolNamesThePoolsThatExist() {
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> snakepit.pool("nope"));
    assertTrue(e.getMessage().contains("default") && e.getMessage().contains("single"), e.getMessage());
  }

  @Test
  void aCallSentToAWorkerThatHadStoppedFailsInsteadOfHanging() throws Exception {
    ActorRef<io.snakepit.actors.worker.WorkerActor.Command> gone =
        NODE.kit().spawn(Behaviors.stopped());
    Thread.sleep(200);
    java.util.concurrent.CompletableFuture<Result> promise = new java.util.concurrent.CompletableFuture<>();
    gone.tell(new io.snakepit.actors.worker.WorkerActor.Execute(new io.snakepit.actors.worker.Job.Unary(
        io.snakepit.proto.ExecuteRequest.newBuilder().setTool("ping").build(), io.snakepit.CallOptions.defaults(),
        System.nanoTime(), 0, promise)));
    Throwable e = failure(promise);
    assertInstanceOf(WorkerCallException.class, e);
    assertTrue(e.getMessage().contains("was lost") && e.getMessage().contains("never ran"), e.getMessage());
  }

  @Test
  void theNodesTreeIsRootThenOneSupervisorPerPoolThenCoordinatorAndWorkers() throws Exception {
    var scheduler = NODE.kit().system().scheduler();
    Duration t = Duration.ofSeconds(10);
    var root = await(AskPattern.<Supervisor.Command,
        Supervisor.Children>ask(Node.get(NODE.kit().system()).supervisor(),
        Supervisor.WhichChildren::new, t, scheduler)).children();
    assertEquals(List.of("pool-default", "pool-single"), root.stream().map(c -> c.id()).toList());
    @SuppressWarnings("unchecked")
    var poolSupervisor = (ActorRef<Supervisor.Command>)
        root.get(0).child().orElseThrow();
    var pool = await(AskPattern.<Supervisor.Command,
        Supervisor.Children>ask(poolSupervisor,
        Supervisor.WhichChildren::new, t, scheduler)).children();
    assertEquals(List.of("coordinator", "workers"), pool.stream().map(c -> c.id()).toList());
    @SuppressWarnings("unchecked")
    var workers = (ActorRef<Supervisor.Command>)
        pool.get(1).child().orElseThrow();
    var counts = await(AskPattern.<Supervisor.Command,
        io.snakepit.actors.supervision.ChildCounts>ask(workers,
        Supervisor.CountChildren::new, t, scheduler));
    assertEquals(2, counts.active(), "the default pool's two worker actors: " + counts);
  }

}
