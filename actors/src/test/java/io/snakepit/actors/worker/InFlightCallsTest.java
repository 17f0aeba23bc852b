package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.Result;
import io.snakepit.WorkerCallException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.Value;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The table of calls in flight: how each way a call can end reaches its caller and the pool. */
class InFlightCallsTest {
  private final InFlightCalls calls = new InFlightCalls("w-1", Duration.ZERO);

  private static Job.Unary job(CallOptions options) {
    return new Job.Unary(ExecuteRequest.newBuilder().setTool("echo").build(), options, System.nanoTime(), 0,
        new CompletableFuture<>());
  }

  private static Throwable failure(Job job) {
    try {
      job.promise().get();
      throw new AssertionError("the call did not fail");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aResultIsSettledOnlyWhenTheActorSaysSoAndDoesNotCountAsAFailure() throws Exception {
    Job.Unary job = job(CallOptions.defaults());
    long id = calls.add(job);
    ExecuteResponse last = ExecuteResponse.newBuilder().setValue(Value.newBuilder().setJson("42")).build();
    InFlightCalls.Ended ended = calls.finish(id, last, null);
    assertFalse(ended.failed());
    assertFalse(job.isDone(), "settled before the pool heard the worker is free");
    ended.settle().run();
    assertEquals(Result.ofJson("42").json(), job.promise().get().json());
    assertTrue(calls.isEmpty());
    assertNull(calls.finish(id, last, null), "a call ends once");
  }

  @Test
  void aTransportFailureIsHeldForTheExitStatusThenFailsAsTheWorkersFault() {
    Job.Unary job = job(CallOptions.defaults());
    long id = calls.add(job);
    assertNull(calls.finish(id, null, Status.UNAVAILABLE.asRuntimeException()));
    assertTrue(calls.isHeld(id));
    assertFalse(calls.isEmpty(), "a held call is still in flight, for the crash to settle");
    InFlightCalls.Ended ended = calls.graceOver(id);
    assertTrue(ended.failed());
    ended.settle().run();
    Throwable error = failure(job);
    assertInstanceOf(WorkerCallException.class, error);
    assertTrue(error.getMessage().contains("failed while its process stayed up"), error.getMessage());
    assertNull(calls.graceOver(id));
  }

  @Test
  void aPastDeadlineFailsAsATimeoutAndOtherErrorsAsWorkerCallErrors() {
    Job.Unary late = job(CallOptions.defaults().withTimeout(Duration.ofMillis(5)));
    long lateId = calls.add(late);
    InFlightCalls.Ended timedOut = calls.finish(lateId, null, Status.DEADLINE_EXCEEDED.asRuntimeException());
    assertTrue(timedOut.failed());
    timedOut.settle().run();
    assertInstanceOf(CallTimeoutException.class, failure(late));
    assertTrue(failure(late).getMessage().contains("within 5 ms (CallOptions.timeout)"), failure(late).getMessage());

    Job.Unary bad = job(CallOptions.defaults());
    InFlightCalls.Ended failed = calls.finish(calls.add(bad), null, Status.RESOURCE_EXHAUSTED.asRuntimeException());
    assertTrue(failed.failed());
    failed.settle().run();
    assertInstanceOf(WorkerCallException.class, failure(bad));
  }

  @Test
  void aCrashReturnsIdempotentCallsWithAttemptsLeftAndFailsTheRest() {
    Job.Unary retried = job(CallOptions.defaults().withIdempotent(true));
    Job.Unary plain = job(CallOptions.defaults());
    calls.add(retried);
    calls.add(plain);
    List<Job> retry = calls.crash(2, () -> new IllegalStateException("crashed"));
    assertEquals(1, retry.size());
    assertEquals(1, retry.get(0).attempt());
    assertFalse(retried.isDone(), "the retried call's caller still waits");
    assertEquals("crashed", failure(plain).getMessage());
    assertTrue(calls.isEmpty());
    calls.add(retry.get(0));
    assertEquals(List.of(), calls.crash(2, () -> new IllegalStateException("again")), "no attempts left");
  }

  @Test
  void theDeadlineIsTheCallsOwnElseThePools() {
    InFlightCalls pooled = new InFlightCalls("w-1", Duration.ofSeconds(7));
    assertEquals(Duration.ofSeconds(7), pooled.timeoutOf(job(CallOptions.defaults())));
    Job.Unary own = job(CallOptions.defaults().withTimeout(Duration.ofSeconds(1)));
    assertEquals(Duration.ofSeconds(1), pooled.timeoutOf(own));
    assertEquals(Long.MAX_VALUE, calls.remainingNanos(job(CallOptions.defaults()), System.nanoTime()));
  }
}
