package io.snakepit.cli;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.context.Scope;
import io.snakepit.CallOptions;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitException;
import io.snakepit.UnknownToolException;
import io.snakepit.actors.OutOfMemory;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import io.snakepit.proto.PythonError;
import io.snakepit.proto.ScaleRequest;
import io.snakepit.proto.ScaleResponse;
import io.snakepit.proto.StatusRequest;
import io.snakepit.proto.StatusResponse;
import io.snakepit.proto.Value;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The node's gateway: the worker contract served over TCP, forwarding each call to a pool. Typed errors travel as
 * {@link PythonError} payloads (type {@code snakepit.<Kind>} for Snakepit's own); an unknown pool is a gRPC status.
 * A request that protobuf cannot parse (a string field that is not UTF-8) is answered with
 * {@code snakepit.InvalidArguments}: its parse happens inside the call rather than in gRPC's transport, which would
 * answer UNKNOWN and log a stack trace.
 */
final class GatewayService implements BindableService {
  /** Room above the largest pool's max-message-size for the gateway's own fields (pool, call id). */
  private static final int ENVELOPE = 64 * 1024;

  /**
   * An execute request as read from the wire: the request, or what is wrong with its bytes, or the out-of-memory
   * error (already reported) that reading them ran into.
   */
  private record Incoming(ExecuteRequest request, String problem, Throwable outOfMemory) {}

  private final MethodDescriptor.Marshaller<Incoming> incoming = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(Incoming value) {
      return value.request().toByteString().newInput();
    }

    @Override
    public Incoming parse(InputStream stream) {
      byte[] bytes;
      try {
        bytes = readMessage(stream);
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("cannot read the request: " + e.getMessage()).withCause(e)
            .asRuntimeException();
      } catch (RuntimeException | Error e) {
        // Parsed on the transport's thread, before any handler the gateway's guard wraps: guarded here.
        if (!outOfMemory.handle(e, "reading a gateway request")) {
          throw e;
        }
        return new Incoming(null, null, e);
      }
      try {
        // The payload may alias these bytes, which nothing else holds: one copy of a large payload fewer.
        CodedInputStream in = CodedInputStream.newInstance(bytes);
        in.enableAliasing(true);
        return new Incoming(ExecuteRequest.parser().parseFrom(in), null, null);
      } catch (InvalidProtocolBufferException e) {
        return new Incoming(null, problem(bytes, e), null);
      }
    }
  };

  private final Snakepit snakepit;
  private final OutOfMemory outOfMemory;
  /** The JSON the Status method answers: this node's, or on a clustered node every node's. */
  private final Supplier<CompletionStage<String>> status;

  GatewayService(Snakepit snakepit, OutOfMemory outOfMemory) {
    this(snakepit, outOfMemory, () -> CompletableFuture.completedFuture(snakepit.status().toJson()));
  }

  GatewayService(Snakepit snakepit, OutOfMemory outOfMemory, Supplier<CompletionStage<String>> status) {
    this.snakepit = snakepit;
    this.outOfMemory = outOfMemory;
    this.status = status;
  }

  /**
   * The largest request the gateway's server takes: the largest of its pools' max-message-size and {@code others}
   * (what the pools of other nodes take, on a clustered node), and room.
   */
  static int maxRequestSize(Snakepit snakepit, long others) {
    long largest = Math.max(others,
        snakepit.pools().values().stream().mapToLong(Pool::maxMessageSize).max().orElse(0));
    return (int) Math.min(Integer.MAX_VALUE, largest + ENVELOPE);
  }

  @Override
  public ServerServiceDefinition bindService() {
    return ServerInterceptors.intercept(ServerServiceDefinition.builder(GatewayGrpc.SERVICE_NAME)
        .addMethod(parsedInCall(GatewayGrpc.getExecuteMethod()), ServerCalls.asyncUnaryCall(
            (Incoming in, StreamObserver<ExecuteResponse> out) -> {
              if (!refused(in, out)) {
                execute(in.request(), out);
              }
            }))
        .addMethod(parsedInCall(GatewayGrpc.getExecuteStreamMethod()), ServerCalls.asyncServerStreamingCall(
            (Incoming in, StreamObserver<ExecuteResponse> out) -> {
              if (!refused(in, out)) {
                executeStream(in.request(), out);
              }
            }))
        .addMethod(GatewayGrpc.getPingMethod(), ServerCalls.asyncUnaryCall(this::ping))
        .addMethod(GatewayGrpc.getScaleMethod(), ServerCalls.asyncUnaryCall(this::scale))
        .addMethod(GatewayGrpc.getStatusMethod(), ServerCalls.asyncUnaryCall(this::status))
        .build(), new GatewayTracing(), new GatewaySession());
  }

  private MethodDescriptor<Incoming, ExecuteResponse> parsedInCall(
      MethodDescriptor<ExecuteRequest, ExecuteResponse> method) {
    return method.toBuilder(incoming, method.getResponseMarshaller()).build();
  }

  /**
   * The bytes of one request message. gRPC hands over a stream that knows its length: one array of that size, where
   * {@code readAllBytes} would fill 8 KiB buffers and copy them.
   */
  static byte[] readMessage(InputStream stream) throws IOException {
    if (!(stream instanceof KnownLength)) {
      return stream.readAllBytes();
    }
    byte[] bytes = new byte[stream.available()];
    int read = stream.readNBytes(bytes, 0, bytes.length);
    if (read == bytes.length && stream.available() == 0) {
      return bytes;
    }
    // Not what KnownLength promised: whatever the stream still has, after what was read.
    byte[] rest = stream.readAllBytes();
    byte[] all = Arrays.copyOf(bytes, read + rest.length);
    System.arraycopy(rest, 0, all, read, rest.length);
    return all;
  }

  /**
   * Answers a request that could not be read: snakepit.InvalidArguments for bytes that are not a request, gRPC's
   * status for a failed handler when reading them ran out of memory. True if it did; the caller then completes.
   */
  private static boolean refused(Incoming in, StreamObserver<ExecuteResponse> out) {
    if (in.outOfMemory() != null) {
      out.onError(Status.UNKNOWN.withDescription(GatewayGuard.APPLICATION_ERROR).withCause(in.outOfMemory())
          .asRuntimeException());
      return true;
    }
    if (in.problem() == null) {
      return false;
    }
    out.onNext(error(new InvalidArgumentsException(in.problem())));
    out.onCompleted();
    return true;
  }

  /** Names the string field that is not UTF-8, the usual reason a well-framed request fails to parse. */
  private static String problem(byte[] bytes, InvalidProtocolBufferException e) {
    try {
      UnknownFieldSet fields = UnknownFieldSet.parseFrom(bytes);
      for (FieldDescriptor field : ExecuteRequest.getDescriptor().getFields()) {
        if (field.getType() == FieldDescriptor.Type.STRING && fields.hasField(field.getNumber())
            && fields.getField(field.getNumber()).getLengthDelimitedList().stream()
                .anyMatch(value -> !value.isValidUtf8())) {
          return "the request's " + field.getName() + " (field " + field.getNumber() + ") is not valid UTF-8;"
              + " protobuf string fields must be UTF-8: send text as UTF-8, binary data as the payload";
        }
      }
    } catch (InvalidProtocolBufferException framing) {
      // Not even well-framed: the parser's own message says where.
    }
    return "the request is not a valid ExecuteRequest: " + e.getMessage();
  }

  private void execute(ExecuteRequest request, StreamObserver<ExecuteResponse> response) {
    Pool pool = pool(request, response);
    CallOptions options = pool == null ? null : options(response);
    if (options == null) {
      return;
    }
    CompletableFuture<Result> call;
    // The client's trace context is the parent of the node's span for the call.
    try (Scope traced = GatewayTracing.parent(request).makeCurrent()) {
      call = (request.getHasPayload()
          ? pool.execute(request.getTool(), request.getArgsJson(), request.getPayload().toByteArray(), options)
          : pool.execute(request.getTool(), request.getArgsJson(), options)).toCompletableFuture();
    }
    // The client's cancellation (or its deadline) cancels the call in the worker.
    Context.current().addListener(context -> call.cancel(true), Runnable::run);
    // A future drops what its callback throws: running out of memory while answering must still be reported.
    call.whenComplete((result, error) -> outOfMemory.guard(() -> {
      if (!call.isCancelled()) {
        response.onNext(error == null ? value(result) : error(error));
        response.onCompleted();
      }
    }, () -> "answering a gateway call of " + request.getTool()).run());
  }

  private void executeStream(ExecuteRequest request, StreamObserver<ExecuteResponse> response) {
    Pool pool = pool(request, response);
    CallOptions options = pool == null ? null : options(response);
    if (options == null) {
      return;
    }
    CompletableFuture<Void> call;
    try (Scope traced = GatewayTracing.parent(request).makeCurrent()) {
      call = pool.executeStream(request.getTool(), request.getArgsJson(), options,
          item -> outOfMemory.guard(() -> response.onNext(value(item)),
              () -> "sending an item of a gateway stream of " + request.getTool()).run()).toCompletableFuture();
    }
    Context.current().addListener(context -> call.cancel(true), Runnable::run);
    call.whenComplete((done, error) -> outOfMemory.guard(() -> {
      if (call.isCancelled()) {
        return;
      }
      if (error != null) {
        response.onNext(error(error));
      }
      response.onCompleted();
    }, () -> "ending a gateway stream of " + request.getTool()).run());
  }

  private void ping(PingRequest request, StreamObserver<PingResponse> response) {
    response.onNext(PingResponse.newBuilder().setPid((int) ProcessHandle.current().pid())
        .setAdapter("gateway").addAllTools(snakepit.pools().keySet()).build());
    response.onCompleted();
  }

  /** The node's pools and workers, as /status has them. */
  private void status(StatusRequest request, StreamObserver<StatusResponse> response) {
    status.get().whenComplete((json, error) -> outOfMemory.guard(() -> {
      if (error != null) {
        response.onError(Status.INTERNAL.withDescription("cannot gather the status: " + error.getMessage())
            .asRuntimeException());
        return;
      }
      response.onNext(StatusResponse.newBuilder().setJson(json).build());
      response.onCompleted();
    }, () -> "answering a status request").run());
  }

  /** Resizes a pool; answers once the resize is done, or with the status that says why it cannot be. */
  private void scale(ScaleRequest request, StreamObserver<ScaleResponse> response) {
    String name = request.getPool().isEmpty() ? Snakepit.DEFAULT_POOL : request.getPool();
    Pool pool;
    try {
      pool = snakepit.pool(name);
    } catch (IllegalArgumentException e) {
      response.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    pool.resize(request.getWorkers()).whenComplete((ready, error) -> outOfMemory.guard(() -> {
      if (error == null) {
        response.onNext(ScaleResponse.newBuilder().setPool(name).setWorkers(request.getWorkers()).setReady(ready)
            .build());
        response.onCompleted();
        return;
      }
      Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      Status status = e instanceof IllegalArgumentException ? Status.INVALID_ARGUMENT : Status.FAILED_PRECONDITION;
      response.onError(status.withDescription(e.getMessage()).asRuntimeException());
    }, () -> "answering a gateway resize of pool " + name).run());
  }

  /**
   * The client's gRPC deadline, if it set one, becomes the call's timeout; its session metadata, if any, the call's
   * session ({@link GatewaySession}).
   */
  private static CallOptions options() {
    Deadline deadline = Context.current().getDeadline();
    return GatewaySession.apply(deadline == null ? CallOptions.defaults()
        : CallOptions.defaults().withTimeout(Duration.ofNanos(Math.max(1, deadline.timeRemaining(TimeUnit.NANOSECONDS)))));
  }

  /** {@link #options()}, or null after answering INVALID_ARGUMENT for a bad session header. */
  private static CallOptions options(StreamObserver<ExecuteResponse> response) {
    try {
      return options();
    } catch (IllegalArgumentException e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return null;
    }
  }

  private Pool pool(ExecuteRequest request, StreamObserver<ExecuteResponse> response) {
    String name = request.getPool().isEmpty() ? Snakepit.DEFAULT_POOL : request.getPool();
    try {
      return snakepit.pool(name);
    } catch (IllegalArgumentException e) {
      response.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
      return null;
    }
  }

  private static ExecuteResponse value(Result result) {
    Value.Builder v = Value.newBuilder();
    if (result.isBytes()) {
      // bytes() is a fresh copy that nothing else holds: wrapping it saves copying it again.
      v.setRaw(UnsafeByteOperations.unsafeWrap(result.bytes()));
    } else {
      v.setJson(result.json());
    }
    return ExecuteResponse.newBuilder().setValue(v).build();
  }

  static ExecuteResponse error(Throwable error) {
    Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    PythonError.Builder p = PythonError.newBuilder();
    if (e instanceof PythonException py) {
      p.setType(py.pythonType()).setMessage(py.pythonMessage()).setTraceback(py.traceback());
    } else if (e instanceof SnakepitException s) {
      p.setType("snakepit." + s.kind()).setMessage(s.getMessage());
      if (s instanceof UnknownToolException u) {
        p.addAllAvailableTools(u.available());
      }
    } else {
      p.setType("snakepit.InternalError").setMessage(String.valueOf(e));
    }
    return ExecuteResponse.newBuilder().setError(p).build();
  }
}
