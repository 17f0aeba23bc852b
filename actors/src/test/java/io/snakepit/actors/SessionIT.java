package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.Affinity;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.SessionBusyException;
import io.snakepit.testing.TestNode;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Sessions: a session's calls go to one worker, as strictly as its affinity asks. */
class SessionIT {
  @RegisterExtension
  static final TestNode NODE = TestNode.of("sessions", """
      snakepit.pools {
        default.workers = 2
        brief { workers = 2, session-ttl = 400ms }
      }
      """, Duration.ofSeconds(60));
  private static Pool pool;
  private static Pool shortLived;

  @BeforeAll
  static void start() {
    pool = NODE.pool("default");
    shortLived = NODE.pool("brief");
  }

  private static CompletableFuture<Result> inSession(Pool p, String session, Affinity a, String tool, String args) {
    return p.executeInSession(session, a, tool, args).toCompletableFuture();
  }

  @Test
  void aSessionsCallsStayOnOneWorker() throws Exception {
    Set<String> pids = new HashSet<>();
    for (int i = 0; i < 6; i++) {
      pids.add(await(inSession(pool, "steady", Affinity.HINT, "pid", "{}")).json());
    }
    assertEquals(1, pids.size(), pids.toString());
  }

  @Test
  void strictFailFastFailsAtOnceWhenTheSessionsWorkerIsBusyAndNamesTheMode() throws Exception {
    String bound = await(inSession(pool, "ff", Affinity.STRICT_FAIL_FAST, "pid", "{}")).json();
    CompletableFuture<Result> busy = inSession(pool, "ff", Affinity.STRICT_FAIL_FAST, "sleep_pid", "{\"seconds\": 1}");
    Thread.sleep(200);
    SessionBusyException e = assertInstanceOf(SessionBusyException.class,
        failure(inSession(pool, "ff", Affinity.STRICT_FAIL_FAST, "pid", "{}")));
    assertTrue(e.getMessage().contains("'ff'") && e.getMessage().contains("STRICT_FAIL_FAST"), e.getMessage());
    assertEquals(bound, await(busy).json());
  }

  @Test
  void strictQueueWaitsForTheSessionsWorker() throws Exception {
    String bound = await(inSession(pool, "sq", Affinity.STRICT_QUEUE, "pid", "{}")).json();
    CompletableFuture<Result> busy = inSession(pool, "sq", Affinity.STRICT_QUEUE, "sleep_pid", "{\"seconds\": 0.7}");
    Thread.sleep(100);
    CompletableFuture<Result> waiting = inSession(pool, "sq", Affinity.STRICT_QUEUE, "pid", "{}");
    assertEquals(bound, await(waiting).json());
    assertTrue(busy.isDone(), "the queued call ran before the session's earlier call ended");
  }

  @Test
  void hintTakesAnotherWorkerWhenTheSessionsWorkerIsBusy() throws Exception {
    String bound = await(inSession(pool, "h", Affinity.HINT, "pid", "{}")).json();
    CompletableFuture<Result> busy = inSession(pool, "h", Affinity.HINT, "sleep_pid", "{\"seconds\": 1}");
    Thread.sleep(200);
    assertNotEquals(bound, await(inSession(pool, "h", Affinity.HINT, "pid", "{}")).json());
    assertEquals(bound, await(busy).json());
  }

  @Test
  void aSessionUnusedForItsTtlIsForgotten() throws Exception {
    String bound = await(inSession(shortLived, "old", Affinity.STRICT_FAIL_FAST, "pid", "{}")).json();
    Thread.sleep(1200);
    // Keep the old worker busy: were the session still bound, the next call would fail as busy.
    CompletableFuture<Result> busy = shortLived.execute("sleep_pid", "{\"seconds\": 1}").toCompletableFuture();
    CompletableFuture<Result> other = shortLived.execute("sleep_pid", "{\"seconds\": 1}").toCompletableFuture();
    Thread.sleep(200);
    CompletableFuture<Result> fresh = inSession(shortLived, "old", Affinity.STRICT_FAIL_FAST, "pid", "{}");
    assertTrue(await(fresh).json().matches("\\d+"), "the expired session's call should bind anew");
    await(busy);
    await(other);
    assertTrue(bound.matches("\\d+"));
  }
}
