package io.snakepit.actors.worker;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import io.snakepit.proto.WorkerGrpc;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The gRPC channel to a ready worker's Python process, and its calls by id (to cancel them). Used on the actor's
 * thread; the completion callbacks run on gRPC's threads and must only tell the actor.
 */
final class WorkerChannel {
  private final ManagedChannel channel;
  private final WorkerGrpc.WorkerStub stub;
  private final Map<Long, ClientCallStreamObserver<?>> calls = new HashMap<>();

  WorkerChannel(ManagedChannel channel) {
    this.channel = channel;
    this.stub = WorkerGrpc.newStub(channel);
  }

  /**
   * Starts {@code job} as call {@code callId} with {@code remainingNanos} left of its deadline
   * ({@code Long.MAX_VALUE}: none). {@code finished} gets the last response or the error; a stream's items go to its
   * receiver straight from gRPC's thread, in order, and a paced receiver gets them only as it asks.
   */
  void execute(Job job, long callId, long remainingNanos, BiConsumer<ExecuteResponse, Throwable> finished) {
    WorkerGrpc.WorkerStub callStub = remainingNanos == Long.MAX_VALUE ? stub
        : stub.withDeadlineAfter(remainingNanos, TimeUnit.NANOSECONDS);
    if (job instanceof Job.Stream stream) {
      StreamItems items = stream.items();
      callStub.executeStream(job.request(), new Observer(callId, finished) {
        @Override
        public void beforeStart(ClientCallStreamObserver<ExecuteRequest> call) {
          super.beforeStart(call);
          if (items.paced()) {
            // Nothing is read until the receiver asks: unread messages fill the HTTP/2 window, and the worker waits.
            call.disableAutoRequestWithInitial(0);
          }
        }

        @Override
        public void onNext(ExecuteResponse item) {
          if (item.hasValue()) {
            items.onItem(Outcomes.toResult(item.getValue()));
          } else {
            last = item;
          }
        }
      });
      ClientCallStreamObserver<?> call = calls.get(callId);
      if (items.paced() && call != null) {
        // Handed over only now: request() is safe from any thread, but only once the call has started.
        items.started(n -> request(call, n));
      }
    } else {
      callStub.execute(job.request(), new Observer(callId, finished));
    }
  }

  /** Asks for {@code n} more messages of a paced call, from whichever thread its receiver runs on. */
  private static void request(ClientCallStreamObserver<?> call, int n) {
    try {
      call.request(n);
    } catch (IllegalStateException ended) {
      // The call was cancelled or closed meanwhile; its end reaches the receiver through the job's promise.
    }
  }

  /** Cancels call {@code callId}, if it is still running (the tool sees current_call().cancelled()). */
  void cancel(long callId) {
    ClientCallStreamObserver<?> call = calls.get(callId);
    if (call != null) {
      call.cancel("cancelled by the caller", null);
    }
  }

  /** Call {@code callId} ended: it can no longer be cancelled. */
  void forget(long callId) {
    calls.remove(callId);
  }

  /** Pings the worker; {@code answered} gets whether it answered within {@code timeout}, and why not. */
  void ping(Duration timeout, BiConsumer<Boolean, String> answered) {
    stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS).ping(PingRequest.getDefaultInstance(),
        new StreamObserver<>() {
          @Override
          public void onNext(PingResponse value) {}

          @Override
          public void onError(Throwable t) {
            answered.accept(false, Status.fromThrowable(t).toString());
          }

          @Override
          public void onCompleted() {
            answered.accept(true, "");
          }
        });
  }

  void shutdownNow() {
    channel.shutdownNow();
  }

  /** A call's gRPC callbacks. */
  private class Observer implements ClientResponseObserver<ExecuteRequest, ExecuteResponse> {
    private final long callId;
    private final BiConsumer<ExecuteResponse, Throwable> finished;
    ExecuteResponse last;

    Observer(long callId, BiConsumer<ExecuteResponse, Throwable> finished) {
      this.callId = callId;
      this.finished = finished;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ExecuteRequest> call) {
      // Called on the actor's thread, inside execute(): safe to record.
      calls.put(callId, call);
    }

    @Override
    public void onNext(ExecuteResponse value) {
      last = value;
    }

    @Override
    public void onError(Throwable t) {
      finished.accept(null, t);
    }

    @Override
    public void onCompleted() {
      finished.accept(last, null);
    }
  }
}
