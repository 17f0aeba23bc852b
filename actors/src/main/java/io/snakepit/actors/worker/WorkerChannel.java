package io.snakepit.actors.worker;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.snakepit.proto.CallFrame;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.ResultFrame;
import io.snakepit.proto.SnapshotRequest;
import io.snakepit.proto.SnapshotResponse;
import io.snakepit.proto.WorkerGrpc;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The gRPC channel to a ready worker's Python process, and its calls by id (to cancel them). Used on the actor's
 * thread, except the calls socket's short way ({@link #multiplexing}, {@link #executeMultiplexed},
 * {@link #cancelMultiplexed}), safe from any thread; the completion callbacks run on gRPC's threads (or the calls
 * socket's I/O thread, or the deadline timer's) and must only tell an actor or settle a call.
 *
 * <p>Multiplexed, one-result calls share one connection to the worker's calls socket, opened when the worker is ready:
 * each goes out as a frame with its id and what is left of its deadline, and its result comes back as a frame with
 * that id. Their deadlines are kept here too (the worker only learns them), a cancel is a frame, and the connection
 * breaking ends every call on it as a transport failure, as each call's own RPC breaking does. Streaming calls keep
 * their own ExecuteStream RPC, so each keeps its own HTTP/2 flow control (a paced receiver's backpressure).
 */
final class WorkerChannel {
  /** The W3C trace context header an RPC carries besides its request's field, for the worker's own interceptors. */
  static final Metadata.Key<String> TRACEPARENT = Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private final ManagedChannel channel;
  private final WorkerGrpc.WorkerStub stub;
  private final Map<Long, ClientCallStreamObserver<?>> calls = new HashMap<>();
  private final CallStream stream;

  /**
   * @param channel the worker's gRPC channel
   * @param callSocket opens the worker's calls socket for a receiver; null for one RPC per one-result call
   */
  WorkerChannel(ManagedChannel channel, Function<CallSocket.Receiver, CallSocket> callSocket) {
    this.channel = channel;
    this.stub = WorkerGrpc.newStub(channel);
    this.stream = callSocket == null ? null : new CallStream(callSocket);
  }

  /**
   * Starts {@code job} as call {@code callId} with {@code remainingNanos} left of its deadline
   * ({@code Long.MAX_VALUE}: none). {@code finished} gets the last response or the error; a stream's items go to its
   * receiver straight from gRPC's thread, in order, and a paced receiver gets them only as it asks.
   */
  void execute(Job job, long callId, long remainingNanos, BiConsumer<ExecuteResponse, Throwable> finished) {
    WorkerGrpc.WorkerStub callStub = remainingNanos == Long.MAX_VALUE ? stub
        : stub.withDeadlineAfter(remainingNanos, TimeUnit.NANOSECONDS);
    String traceparent = job.request().getTraceparent();
    if (!traceparent.isEmpty() && (job instanceof Job.Stream || stream == null)) {
      Metadata headers = new Metadata();
      headers.put(TRACEPARENT, traceparent);
      callStub = callStub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
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
    } else if (stream != null && stream.start(job.request(), callId, remainingNanos, finished)) {
      return;
    } else {
      callStub.execute(job.request(), new Observer(callId, finished));
    }
  }

  /** Whether one-result calls go on the calls socket now (it is open and has not ended). Safe from any thread. */
  boolean multiplexing() {
    return stream != null && !stream.broken;
  }

  /**
   * Starts one-result {@code job} on the calls socket, from any thread ({@link WorkerPort}'s short way); if the
   * connection ended meanwhile, {@code finished} gets a transport failure at once, as a call on it would.
   */
  void executeMultiplexed(Job job, long callId, long remainingNanos, BiConsumer<ExecuteResponse, Throwable> finished) {
    if (!stream.start(job.request(), callId, remainingNanos, finished)) {
      finished.accept(null, Status.UNAVAILABLE.withDescription("the worker's calls socket closed")
          .asRuntimeException());
    }
  }

  /** Cancels multiplexed call {@code callId}, from any thread; its end comes as a cancel. */
  void cancelMultiplexed(long callId) {
    stream.end(callId, Status.CANCELLED.withDescription("cancelled by the caller"));
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
    } else if (stream != null) {
      stream.end(callId, Status.CANCELLED.withDescription("cancelled by the caller"));
    }
  }

  /** Call {@code callId} ended: it can no longer be cancelled. */
  void forget(long callId) {
    calls.remove(callId);
  }

  /** Pings the worker; {@code answered} gets whether it answered within {@code timeout}, and why not. */
  void ping(Duration timeout, BiConsumer<Boolean, String> answered) {
    stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS).ping(PingRequest.getDefaultInstance(),
        new Answer<>((response, error) -> answered.accept(error == null,
            error == null ? "" : Status.fromThrowable(error).toString())));
  }

  /** Asks for the adapter's state within {@code timeout}; {@code answered} gets the response or the error. */
  void snapshot(Duration timeout, BiConsumer<SnapshotResponse, Throwable> answered) {
    stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS).snapshot(SnapshotRequest.getDefaultInstance(),
        new Answer<>(answered));
  }

  /** The answer of a unary RPC, or its error, handed to {@code answered} once. */
  private static final class Answer<T> implements StreamObserver<T> {
    private final BiConsumer<T, Throwable> answered;
    private T response;

    Answer(BiConsumer<T, Throwable> answered) {
      this.answered = answered;
    }

    @Override
    public void onNext(T value) {
      response = value;
    }

    @Override
    public void onError(Throwable t) {
      answered.accept(null, t);
    }

    @Override
    public void onCompleted() {
      answered.accept(response, null);
    }
  }

  void shutdownNow() {
    if (stream != null) {
      stream.close();
    }
    channel.shutdownNow();
  }

  /**
   * The calls socket's connection and its calls waiting for a result. A call is ended once, by whichever comes first
   * (its result, its deadline, its cancel, the connection's end) taking it out of {@code pending}.
   */
  private static final class CallStream implements CallSocket.Receiver {
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final CallSocket socket;
    private volatile boolean broken;

    CallStream(Function<CallSocket.Receiver, CallSocket> connect) {
      this.socket = connect.apply(this);
    }

    /** Sends the call on the connection; false once the connection has ended: call it on its own. */
    boolean start(ExecuteRequest request, long callId, long remainingNanos,
        BiConsumer<ExecuteResponse, Throwable> finished) {
      if (broken) {
        return false;
      }
      Pending call = new Pending(finished);
      pending.put(callId, call);
      long remainingMicros = remainingNanos == Long.MAX_VALUE ? 0 : Math.max(1, remainingNanos / 1000);
      socket.send(CallFrame.newBuilder().setId(callId).setRequest(request.toByteString())
          .setDeadlineUs(remainingMicros).setSentAtNs(System.nanoTime()).build());
      if (remainingNanos != Long.MAX_VALUE) {
        // After the request, so that a cancel never overtakes it.
        call.deadline = DEADLINES.schedule(
            () -> end(callId, Status.DEADLINE_EXCEEDED.withDescription("the call's deadline passed")),
            remainingNanos, TimeUnit.NANOSECONDS);
      }
      if (broken) {
        // The connection ended while this call went in: it may have missed the sweep.
        end(callId, Status.UNAVAILABLE.withDescription("the worker's calls socket closed"));
      }
      return true;
    }

    /** Ends call {@code callId} with {@code status} (a deadline or a cancel) and tells the worker to stop it. */
    void end(long callId, Status status) {
      Pending call = pending.remove(callId);
      if (call != null) {
        if (!broken) {
          socket.send(CallFrame.newBuilder().setId(callId).setCancel(true).build());
        }
        call.finish(null, status.asRuntimeException());
      }
    }

    void close() {
      socket.close();
    }

    @Override
    public void received(ResultFrame result) {
      Pending call = pending.remove(result.getId());
      if (call != null) {
        call.finish(result.getResponse(), null);
      }
    }

    @Override
    public void closed(Throwable cause) {
      // A transport failure either way: a call still here is held until the process's exit status says why.
      sweep(cause == null
          ? Status.UNAVAILABLE.withDescription("the worker closed its calls socket: it is stopping").asRuntimeException()
          : Status.UNAVAILABLE.withDescription("the worker's calls socket broke").withCause(cause)
              .asRuntimeException());
    }

    /** The connection ended: every call on it ends as its own RPC would have, and later calls are made one by one. */
    private void sweep(Throwable t) {
      broken = true;
      for (Long id : pending.keySet()) {
        Pending call = pending.remove(id);
        if (call != null) {
          call.finish(null, t);
        }
      }
    }
  }

  /** A multiplexed call waiting for its result. */
  private static final class Pending {
    final BiConsumer<ExecuteResponse, Throwable> finished;
    volatile ScheduledFuture<?> deadline;

    Pending(BiConsumer<ExecuteResponse, Throwable> finished) {
      this.finished = finished;
    }

    /** Ends the call (its caller took it out of the pending calls, so this runs once): no deadline fires after. */
    void finish(ExecuteResponse response, Throwable error) {
      ScheduledFuture<?> timer = deadline;
      if (timer != null) {
        timer.cancel(false);
      }
      finished.accept(response, error);
    }
  }

  /** Fires multiplexed calls' deadlines for every worker: one daemon thread, whose tasks only tell actors. */
  private static final ScheduledThreadPoolExecutor DEADLINES = deadlineTimer();

  private static ScheduledThreadPoolExecutor deadlineTimer() {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, task -> {
      Thread thread = new Thread(task, "snakepit-call-deadlines");
      thread.setDaemon(true);
      return thread;
    });
    timer.setRemoveOnCancelPolicy(true);
    return timer;
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
