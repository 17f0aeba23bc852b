package io.snakepit.cli;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.snakepit.CallOptions;
import io.snakepit.Pool;
import io.snakepit.PythonException;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.SnakepitException;
import io.snakepit.UnknownToolException;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import io.snakepit.proto.PythonError;
import io.snakepit.proto.Value;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * The node's gateway: the worker contract served over TCP, forwarding each call to a pool. Typed errors travel as
 * {@link PythonError} payloads (type {@code snakepit.<Kind>} for Snakepit's own); an unknown pool is a gRPC status.
 */
final class GatewayService extends GatewayGrpc.GatewayImplBase {
  private final Snakepit snakepit;

  GatewayService(Snakepit snakepit) {
    this.snakepit = snakepit;
  }

  @Override
  public void execute(ExecuteRequest request, StreamObserver<ExecuteResponse> response) {
    Pool pool = pool(request, response);
    if (pool == null) {
      return;
    }
    CompletableFuture<Result> call = (request.getHasPayload()
        ? pool.execute(request.getTool(), request.getArgsJson(), request.getPayload().toByteArray())
        : pool.execute(request.getTool(), request.getArgsJson(), options())).toCompletableFuture();
    // The client's cancellation (or its deadline) cancels the call in the worker.
    Context.current().addListener(context -> call.cancel(true), Runnable::run);
    call.whenComplete((result, error) -> {
      if (!call.isCancelled()) {
        response.onNext(error == null ? value(result) : error(error));
        response.onCompleted();
      }
    });
  }

  @Override
  public void executeStream(ExecuteRequest request, StreamObserver<ExecuteResponse> response) {
    Pool pool = pool(request, response);
    if (pool == null) {
      return;
    }
    CompletableFuture<Void> call = pool.executeStream(request.getTool(), request.getArgsJson(), options(),
        item -> response.onNext(value(item))).toCompletableFuture();
    Context.current().addListener(context -> call.cancel(true), Runnable::run);
    call.whenComplete((done, error) -> {
      if (call.isCancelled()) {
        return;
      }
      if (error != null) {
        response.onNext(error(error));
      }
      response.onCompleted();
    });
  }

  @Override
  public void ping(PingRequest request, StreamObserver<PingResponse> response) {
    response.onNext(PingResponse.newBuilder().setPid((int) ProcessHandle.current().pid())
        .setAdapter("gateway").addAllTools(snakepit.pools().keySet()).build());
    response.onCompleted();
  }

  /** The client's gRPC deadline, if it set one, becomes the call's timeout. */
  private static CallOptions options() {
    Deadline deadline = Context.current().getDeadline();
    return deadline == null ? CallOptions.defaults()
        : CallOptions.defaults().withTimeout(Duration.ofNanos(Math.max(1, deadline.timeRemaining(TimeUnit.NANOSECONDS))));
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
      v.setRaw(ByteString.copyFrom(result.bytes()));
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
