package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.eventually;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.WorkerCrashedException;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.Signals;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Workers that die: the caller learns how, the tree goes with them, and the pool replaces them. */
class WorkerCrashIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("crash", """
      snakepit.pools.default {
        workers = 1
        adapter = "snakepit_worker.examples.forking:ForkingAdapter"
      }
      """, Duration.ofSeconds(30));
  private static Pool pool;

  @BeforeAll
  static void start() {
    pool = NODE.pool("default");
  }

  private static int workerPid() throws Exception {
    return Integer.parseInt(await(pool.execute("pid", "{}")).json());
  }

  /** Waits until the (replacement) worker answers, and returns its pid. */
  private static int awaitWorker() throws Exception {
    return eventually(Duration.ofSeconds(20), WorkerCrashIT::workerPid);
  }

  @Test
  void pythonKilledMidCallFailsTheCallerWithWorkerCrashedAndIsReplaced() throws Exception {
    int pid = awaitWorker();
    CompletionStage<Result> call = pool.execute("sleep", "{\"seconds\": 30}");
    Thread.sleep(300);
    Procs.kill(pid, Signals.SIGKILL);
    WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(call));
    assertEquals("killed by signal 9 (SIGKILL)", e.exitStatus());
    int replacement = awaitWorker();
    assertNotEquals(pid, replacement);
    assertEquals("\"pong\"", await(pool.execute("ping", "{}")).json());
  }

  @Test
  void exitCodeSigkillAndSigsegvAreReportedDistinctly() throws Exception {
    awaitWorker();
    WorkerCrashedException exit9 = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("exit", "{\"code\": 9}")));
    awaitWorker();
    WorkerCrashedException sigkill = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("crash", "{\"signal\": 9}")));
    awaitWorker();
    WorkerCrashedException sigsegv = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("crash", "{\"signal\": 11}")));
    assertEquals("exited with code 9", exit9.exitStatus());
    assertEquals("killed by signal 9 (SIGKILL)", sigkill.exitStatus());
    assertTrue(sigsegv.exitStatus().startsWith("killed by signal 11 (SIGSEGV)"), sigsegv.exitStatus());
    assertEquals(WorkerCrashedException.Reason.EXITED, exit9.reason());
    assertEquals(WorkerCrashedException.Reason.KILLED, sigkill.reason());
    assertEquals(WorkerCrashedException.Reason.SEGFAULT, sigsegv.reason());
    awaitWorker();
    WorkerCrashedException abort = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("crash", "{\"signal\": 6}")));
    assertEquals(WorkerCrashedException.Reason.ABORTED, abort.reason());
    awaitWorker();
  }

  @Test
  void crashReportCarriesTheLastLinesOfStderr() throws Exception {
    awaitWorker();
    WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("exit", "{\"code\": 4, \"message\": \"dying words 1234\"}")));
    assertTrue(e.stderrTail().stream().anyMatch(l -> l.contains("dying words 1234")), e.stderrTail()::toString);
    awaitWorker();
  }

  @Test
  void shimKilledTakesPythonAndItsChildrenDownAndTheWorkerIsReplaced() throws Exception {
    int python = awaitWorker();
    int shim = ProcStat.read(python).orElseThrow().ppid();
    assertTrue(Procs.cmdline(shim).contains("snakepit-shim"), Procs.cmdline(shim));
    List<Procs.Proc> tree = new ArrayList<>(spawnTree());
    tree.add(Procs.of(python).orElseThrow());
    tree.add(Procs.of(shim).orElseThrow());
    Procs.kill(shim, Signals.SIGKILL);
    List<Procs.Proc> alive = Procs.awaitGone(tree, Duration.ofSeconds(10));
    assertEquals(List.of(), alive, "still alive after the shim was killed");
    assertNotEquals(python, awaitWorker());
  }

  @Test
  void workerStartsWithAnEmptySignalMaskAndNoInheritedIgnoredSignals() throws Exception {
    int python = awaitWorker();
    assertEquals(0L, Procs.signalMask(python, "SigBlk"), "blocked signals leaked into the worker");
    // CPython itself ignores SIGPIPE and SIGXFSZ at start-up; nothing else may be ignored.
    long cpythonOwn = (1L << (13 - 1)) | (1L << (25 - 1));
    assertEquals(0L, Procs.signalMask(python, "SigIgn") & ~cpythonOwn, "ignored signals leaked into the worker");
    // What the shim hands to exec is shown by a program that does not touch its signals (see ShimIT).
  }

  private static List<Procs.Proc> spawnTree() throws Exception {
    String json = await(pool.execute("spawn_tree", "{}")).json();
    List<Procs.Proc> tree = new ArrayList<>();
    for (String key : List.of("multiprocessing", "subprocess", "double_fork")) {
      int pid = Integer.parseInt(json.replaceAll(".*\"" + key + "\": (\\d+).*", "$1"));
      tree.add(Procs.of(pid).orElseThrow(() -> new AssertionError(key + " child is not running: " + json)));
    }
    return tree;
  }
}
