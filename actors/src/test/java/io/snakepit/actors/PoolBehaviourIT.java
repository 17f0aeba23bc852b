package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.QueueTimeoutException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a pool does beyond dispatch, with real Python workers: concurrency, deadlines, recycling, health. */
class PoolBehaviourIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("behaviour", """
      snakepit.pools {
        default.workers = 1
        overlap { workers = 1, concurrency = 4 }
        narrow { workers = 1, threads = 1, queue-timeout = 300ms }
        counted { workers = 1, recycle.max-calls = 3 }
        aging { workers = 1, recycle.ttl = 1s }
        hungry { workers = 1, recycle.max-rss = 150MiB }
        watched { workers = 1, health { interval = 200ms, timeout = 200ms, max-missed = 3 } }
      }
      """, Duration.ofSeconds(90));
  private static Snakepit snakepit;

  @BeforeAll
  static void start() {
    snakepit = NODE.snakepit();
  }

  private static int pid(Pool pool) throws Exception {
    return Integer.parseInt(await(pool.execute("pid", "{}")).json());
  }

  /** Asks for the serving worker's pid until it is not {@code pid} (or 15 s pass); returns the last one seen. */
  private static int awaitOtherPid(Pool pool, int pid) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    int now = pid;
    while (now == pid && System.nanoTime() < deadline) {
      Thread.sleep(200);
      now = pid(pool);
    }
    return now;
  }

  @Test
  void callsOnOneWorkerWithConcurrencyFourReallyOverlap() throws Exception {
    Pool pool = snakepit.pool("overlap");
    long t0 = System.nanoTime();
    List<CompletableFuture<Result>> calls = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      calls.add(pool.execute("sleep_pid", "{\"seconds\": 0.5}").toCompletableFuture());
    }
    Set<String> pids = new HashSet<>();
    for (CompletableFuture<Result> c : calls) {
      pids.add(await(c).json());
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertEquals(1, pids.size(), "one worker served them all");
    assertTrue(ms < 1500, "four 500 ms calls took " + ms + " ms: they did not overlap");
  }

  @Test
  void theCallTimeoutIsADeadlineThePythonToolSees() throws Exception {
    double remaining = Double.parseDouble(await(snakepit.pool("default").execute("deadline", "{}",
        CallOptions.defaults().withTimeout(Duration.ofSeconds(3)))).json());
    assertTrue(remaining > 0 && remaining <= 3.0, "the tool saw " + remaining + " s left");
    assertEquals("null", await(snakepit.pool("default").execute("deadline", "{}")).json());
  }

  @Test
  void aCallPastItsDeadlineFailsAndPythonStopsWorkingOnIt() throws Exception {
    Pool narrow = snakepit.pool("narrow"); // one worker with a single tool thread
    CallTimeoutException e = assertInstanceOf(CallTimeoutException.class, failure(narrow.execute("sleep",
        "{\"seconds\": 30}", CallOptions.defaults().withTimeout(Duration.ofMillis(500)))));
    assertTrue(e.getMessage().contains("within 500 ms"), e.getMessage());
    // Had the tool kept sleeping, its only thread would be busy for 30 s and this call would time out.
    assertEquals("\"pong\"", await(narrow.execute("ping", "{}", CallOptions.defaults()
        .withTimeout(Duration.ofSeconds(5)))).json());
  }

  @Test
  void cancellingTheStageCancelsTheCallInPython() throws Exception {
    Pool narrow = snakepit.pool("narrow");
    CompletableFuture<Result> call = narrow.execute("sleep", "{\"seconds\": 30}").toCompletableFuture();
    Thread.sleep(300);
    assertTrue(call.cancel(true));
    assertEquals("\"pong\"", await(narrow.execute("ping", "{}", CallOptions.defaults()
        .withTimeout(Duration.ofSeconds(5)))).json());
  }

  @Test
  void aCallThatWaitsTooLongInTheQueueFailsWithQueueTimeout() throws Exception {
    Pool narrow = snakepit.pool("narrow");
    CompletableFuture<Result> busy = narrow.execute("sleep", "{\"seconds\": 1.5}").toCompletableFuture();
    Thread.sleep(100);
    QueueTimeoutException e = assertInstanceOf(QueueTimeoutException.class, failure(narrow.execute("ping", "{}")));
    assertTrue(e.getMessage().contains("queue-timeout") && e.getMessage().contains("narrow"), e.getMessage());
    assertEquals("1.5", await(busy).json());
  }

  @Test
  void aWorkerIsReplacedAfterMaxCallsWithoutFailingACall() throws Exception {
    Pool pool = snakepit.pool("counted");
    List<Integer> pids = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      pids.add(pid(pool));
    }
    assertEquals(3, new HashSet<>(pids).size(), "three workers should have served three calls each: " + pids);
    assertEquals(pids.get(0), pids.get(2));
    assertNotEquals(pids.get(2), pids.get(3));
  }

  @Test
  void aWorkerIsReplacedAfterItsTimeToLive() throws Exception {
    Pool pool = snakepit.pool("aging");
    int first = pid(pool);
    assertNotEquals(first, awaitOtherPid(pool, first), "the worker outlived its ttl");
  }

  @Test
  void aWorkerIsReplacedOnceItsMemoryPassesTheLimit() throws Exception {
    Pool pool = snakepit.pool("hungry");
    int first = pid(pool);
    assertEquals("200", await(pool.execute("grow", "{\"mb\": 200}")).json());
    assertNotEquals(first, awaitOtherPid(pool, first), "a worker holding 200 MiB outlived recycle.max-rss = 150MiB");
  }

  @Test
  void aWorkerThatStopsAnsweringPingsIsKilledAndReplaced() throws Exception {
    Pool pool = snakepit.pool("watched");
    int first = pid(pool);
    Procs.Proc frozen = Procs.of(first).orElseThrow();
    Procs.kill(first, 19); // SIGSTOP: alive, but answering nothing
    assertEquals(List.of(), Procs.awaitGone(List.of(frozen), Duration.ofSeconds(10)), "the frozen worker lives on");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    Integer now = null;
    while (now == null && System.nanoTime() < deadline) {
      try {
        now = pid(pool);
      } catch (Exception e) {
        Thread.sleep(100);
      }
    }
    assertNotEquals(first, now);
  }

  @Test
  void commonPythonExceptionsArriveAsTheirOwnJavaTypes() throws Exception {
    Pool pool = snakepit.pool("default");
    PythonException key = assertInstanceOf(PythonException.PythonKeyError.class,
        failure(pool.execute("fail", "{\"kind\": \"KeyError\", \"message\": \"k\"}")));
    assertInstanceOf(PythonException.PythonLookupError.class, key);
    assertTrue(key.traceback().contains("Traceback"), key.traceback());
    assertInstanceOf(PythonException.PythonValueError.class,
        failure(pool.execute("fail", "{\"kind\": \"ValueError\"}")));
    assertInstanceOf(PythonException.PythonTypeError.class,
        failure(pool.execute("fail", "{\"kind\": \"TypeError\"}")));
    PythonException timeout = assertInstanceOf(PythonException.PythonTimeoutError.class,
        failure(pool.execute("fail", "{\"kind\": \"TimeoutError\"}")));
    assertInstanceOf(PythonException.PythonOSError.class, timeout);
    PythonException other = assertInstanceOf(PythonException.class,
        failure(pool.execute("fail", "{\"kind\": \"NoSuchKind\"}")));
    assertEquals("RuntimeError", other.pythonType());
  }
}
