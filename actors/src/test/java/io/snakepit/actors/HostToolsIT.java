package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.NodeStatus;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.WorkerCrashedException;
import io.snakepit.testing.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tool bridge with real workers: Python tools of pool {@code front} call host tools registered here, some of
 * which call back into pool {@code back}. The caller's deadline and cancellation reach the nested call, and every
 * failure reaches Python as its typed error.
 */
class HostToolsIT {
  /** The test adapters' directory, put on the pools' python-path (failsafe runs in the module's directory). */
  private static final Path ADAPTERS = Path.of("src/test/python").toAbsolutePath();
  private static final Duration WITHIN = Duration.ofSeconds(10);

  @RegisterExtension
  static final TestNode NODE = TestNode.of("host", """
      snakepit.pools.front {
        workers = 1
        adapter = "snakepit_host_adapter:FrontAdapter"
        python-path = ["%1$s"]
      }
      snakepit.pools.back {
        workers = 1
        adapter = "snakepit_host_adapter:BackAdapter"
        python-path = ["%1$s"]
      }
      """.formatted(ADAPTERS), Duration.ofSeconds(60));

  record Scale(int value, int factor) {}

  record Scaled(int value, String by) {}

  record Num(int n) {}

  private static Pool front;
  private static Pool back;

  @TempDir
  Path dir;

  @BeforeAll
  static void registerHostTools() {
    Snakepit snakepit = NODE.snakepit();
    front = NODE.pool("front");
    back = NODE.pool("back");
    snakepit.registerHostTool("back_linger", call -> call.execute(back, "linger", call.argsJson())
        .thenApply(Result::json));
    snakepit.registerHostTool("back_refuse", call -> call.execute(back, "refuse", "").thenApply(Result::json));
    snakepit.registerHostTool("throws", call -> {
      throw new IllegalStateException("rates are closed for " + call.argsJson());
    });
    snakepit.registerHostTool("whoami", call -> CompletableFuture.completedFuture("{\"caller\": \""
        + call.callerCallId() + "\", \"worker\": \"" + call.workerId() + "\", \"remaining_ms\": "
        + call.timeRemaining().map(Duration::toMillis).orElse(-1L) + "}"));
    snakepit.registerHostTool("scale", Scale.class, (args, call) -> CompletableFuture.completedFuture(
        new Scaled(args.value() * args.factor(), call.workerId())));
    snakepit.registerHostTool("typed_back", Num.class, (args, call) -> call.execute(back, "double", args, Num.class));
  }

  private static Map<?, ?> ask(String name, Map<String, ?> args) throws Exception {
    return await(front.execute("ask_catching", Map.of("name", name, "args", args), Map.class));
  }

  @Test
  void aTypedHostToolTakesItsArgumentsAsARecordAndReturnsOne() throws Exception {
    Map<?, ?> answer = ask("scale", Map.of("value", 6, "factor", 7));
    Map<?, ?> result = (Map<?, ?>) answer.get("result");
    assertEquals(42, result.get("value"), answer.toString());
    assertTrue(((String) result.get("by")).startsWith("front-"), answer.toString());
  }

  @Test
  void aTypedHostToolCallsBackIntoAnotherPool() throws Exception {
    assertEquals(Map.of("n", 42), await(front.execute("ask", Map.of("name", "typed_back", "args", Map.of("n", 21)),
        Map.class)));
  }

  @Test
  void argumentsThatDoNotFitATypedHostToolRaiseInvalidHostArgumentsNamingTheType() throws Exception {
    Map<?, ?> answer = ask("scale", Map.of("value", "many"));
    assertEquals("InvalidHostArguments", answer.get("error"), answer.toString());
    assertTrue(((String) answer.get("message")).contains(Scale.class.getName()), answer.toString());
  }

  @Test
  void anUnknownHostToolRaisesUnknownHostToolListingTheRegisteredOnes() throws Exception {
    Map<?, ?> answer = ask("rates", Map.of());
    assertEquals("UnknownHostTool", answer.get("error"), answer.toString());
    assertTrue(((List<?>) answer.get("available")).containsAll(List.of("back_linger", "scale", "throws")),
        answer.toString());
    assertTrue(((String) answer.get("message")).contains("registerHostTool(\"rates\""), answer.toString());

    // Not caught by the tool, it reaches the original caller as the tool's Python error.
    PythonException e = assertInstanceOf(PythonException.class,
        failure(front.execute("ask", Map.of("name", "rates"), Map.class)));
    assertEquals("snakepit_worker.host.UnknownHostTool", e.pythonType());
  }

  @Test
  void aHandlerThatThrowsReachesPythonWithItsClassMessageAndTrace() throws Exception {
    Map<?, ?> answer = ask("throws", Map.of("day", "monday"));
    assertEquals("HostToolFailed", answer.get("error"), answer.toString());
    assertEquals("java.lang.IllegalStateException", answer.get("java_type"));
    assertTrue(((String) answer.get("message")).contains("rates are closed for {\"day\": \"monday\"}"),
        answer.toString());
    assertTrue(((String) answer.get("trace")).contains(HostToolsIT.class.getName()), answer.toString());
  }

  @Test
  void aPythonErrorInTheNestedPoolCallReachesTheFirstToolAsPythonException() throws Exception {
    Map<?, ?> answer = ask("back_refuse", Map.of());
    assertEquals("HostToolFailed", answer.get("error"), answer.toString());
    assertTrue(((String) answer.get("java_type")).startsWith(PythonException.class.getName()), answer.toString());
    assertTrue(((String) answer.get("message")).contains("back refuses"), answer.toString());
  }

  @Test
  void theHostCallCarriesTheCallersRemainingDeadlineAndCallId() throws Exception {
    Map<?, ?> who = await(front.execute("ask", Map.of("name", "whoami"), Map.class,
        CallOptions.defaults().withTimeout(Duration.ofSeconds(20))));
    long remaining = ((Number) who.get("remaining_ms")).longValue();
    assertTrue(remaining > 10_000 && remaining <= 20_000, who.toString());
    assertTrue(((String) who.get("caller")).startsWith("c"), who.toString());
    assertTrue(((String) who.get("worker")).startsWith("front-"), who.toString());
  }

  @Test
  void aDeadlineThatPassesMidWayFailsTheCallerAndCancelsTheNestedCall() throws Exception {
    String marker = dir.resolve("linger").toString();
    CompletableFuture<?> call = front.execute("ask", Map.of("name", "back_linger",
        "args", Map.of("marker", marker, "seconds", 60)), Map.class,
        CallOptions.defaults().withTimeout(Duration.ofSeconds(3))).toCompletableFuture();
    // Mid-way: the nested call runs in pool back, with what was left of the 3 s.
    Path started = Path.of(marker + ".started");
    eventuallyTrue(() -> Files.exists(started), "the nested call never started: " + started);
    assertTrue(Double.parseDouble(Files.readString(started)) <= 3.0, Files.readString(started));

    assertInstanceOf(CallTimeoutException.class, failure(call));
    eventuallyTrue(() -> Files.exists(Path.of(marker + ".cancelled")), "the nested call was not cancelled");
    assertFalse(Files.exists(Path.of(marker + ".finished")));
    settled();
  }

  @Test
  void cancellingTheCallersCallCancelsItsHostCallAndTheNestedCall() throws Exception {
    String marker = dir.resolve("cancel").toString();
    CompletableFuture<?> call = front.execute("ask", Map.of("name", "back_linger",
        "args", Map.of("marker", marker, "seconds", 60)), Map.class,
        CallOptions.defaults().withTimeout(Duration.ofSeconds(60))).toCompletableFuture();
    eventuallyTrue(() -> Files.exists(Path.of(marker + ".started")), "the nested call never started");
    call.cancel(false);
    // Long before the 60 s deadline, the nested tool saw its call cancelled.
    eventuallyTrue(() -> Files.exists(Path.of(marker + ".cancelled")), "the nested call was not cancelled");
    settled();
  }

  @Test
  void aCallingWorkerThatDiesCancelsItsHostCallAndTheNestedCall() throws Exception {
    String marker = dir.resolve("killed").toString();
    CompletableFuture<?> call = front.execute("ask", Map.of("name", "back_linger",
        "args", Map.of("marker", marker, "seconds", 60)), Map.class,
        CallOptions.defaults().withTimeout(Duration.ofSeconds(60))).toCompletableFuture();
    eventuallyTrue(() -> Files.exists(Path.of(marker + ".started")), "the nested call never started");
    int pid = NODE.snakepit().status().pool("front").workers().get(0).pid();
    assertTrue(ProcessHandle.of(pid).orElseThrow().destroyForcibly(), "could not kill the front worker " + pid);
    assertInstanceOf(WorkerCrashedException.class, failure(call));
    // Its connection closed with it: the node cancelled its host call, and that the nested one.
    eventuallyTrue(() -> Files.exists(Path.of(marker + ".cancelled")), "the nested call was not cancelled");
    settled();
  }

  /** No host call is left in flight, both pools' workers are idle, and both answer. */
  private static void settled() throws Exception {
    eventuallyTrue(() -> Node.get(NODE.kit().system()).hostTools().inFlight() == 0, "a host call stayed in flight");
    // Within the replacement's start too, after a worker was killed.
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!idle(NODE.snakepit().status()) && System.nanoTime() < until) {
      Thread.sleep(50);
    }
    assertTrue(idle(NODE.snakepit().status()), "a worker stayed busy: " + NODE.snakepit().status());
    assertEquals(Map.of("n", 4), await(back.execute("double", Map.of("n", 2), Map.class), WITHIN));
    Map<?, ?> answer = ask("scale", Map.of("value", 2, "factor", 3));
    assertEquals(6, ((Map<?, ?>) answer.get("result")).get("value"), answer.toString());
  }

  private static boolean idle(NodeStatus status) {
    return status.pools().stream().allMatch(p -> p.workers().size() == p.size()
        && p.workers().stream().allMatch(w -> w.state().equals("idle")));
  }

  private interface Check {
    boolean holds() throws Exception;
  }

  private static void eventuallyTrue(Check check, String why) throws Exception {
    long deadline = System.nanoTime() + WITHIN.toNanos();
    while (!check.holds()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(why + " within " + WITHIN.toSeconds() + " s");
      }
      Thread.sleep(50);
    }
  }
}
