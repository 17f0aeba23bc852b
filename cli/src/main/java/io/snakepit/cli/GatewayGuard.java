package io.snakepit.cli;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.snakepit.actors.OutOfMemory;

/**
 * Runs a gateway call's handlers under the node's out-of-memory handling. The gateway's servers run their calls on
 * the transport's threads with gRPC's direct executor (its cheapest path: no task queue per call), which leaves no
 * executor to guard them; this interceptor, the outermost, does it instead. An {@link OutOfMemoryError} is reported
 * (and halts the JVM under {@code on-out-of-memory = exit}); under {@code keep-running} the call ends with the status
 * gRPC gives any handler that throws. Anything else goes on to gRPC as it was thrown.
 */
final class GatewayGuard implements ServerInterceptor {
  /** What gRPC answers when a call's handler throws; the same for a handler that ran out of memory. */
  static final String APPLICATION_ERROR = "Application error processing RPC";

  private final OutOfMemory outOfMemory;

  GatewayGuard(OutOfMemory outOfMemory) {
    this.outOfMemory = outOfMemory;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    ServerCall.Listener<Q> listener;
    try {
      listener = next.startCall(call, headers);
    } catch (RuntimeException | Error e) {
      if (!handled(call, e, "starting")) {
        throw e;
      }
      return new ServerCall.Listener<>() {};
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onMessage(Q message) {
        try {
          super.onMessage(message);
        } catch (RuntimeException | Error e) {
          if (!handled(call, e, "taking the request of")) {
            throw e;
          }
        }
      }

      @Override
      public void onHalfClose() {
        try {
          super.onHalfClose();
        } catch (RuntimeException | Error e) {
          if (!handled(call, e, "running")) {
            throw e;
          }
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } catch (RuntimeException | Error e) {
          if (!handled(call, e, "cancelling")) {
            throw e;
          }
        }
      }

      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } catch (RuntimeException | Error e) {
          if (!handled(call, e, "completing")) {
            throw e;
          }
        }
      }

      @Override
      public void onReady() {
        try {
          super.onReady();
        } catch (RuntimeException | Error e) {
          if (!handled(call, e, "resuming")) {
            throw e;
          }
        }
      }
    };
  }

  /** If {@code e} is an out-of-memory error: reports it, ends the call as gRPC would, and returns true. */
  private boolean handled(ServerCall<?, ?> call, Throwable e, String doing) {
    if (!outOfMemory.handle(e, doing + " a gateway call of " + call.getMethodDescriptor().getFullMethodName())) {
      return false;
    }
    close(call, e);
    return true;
  }

  /** Ends {@code call} with gRPC's status for a handler that threw {@code e}, unless it has already ended. */
  static void close(ServerCall<?, ?> call, Throwable e) {
    try {
      call.close(Status.UNKNOWN.withDescription(APPLICATION_ERROR).withCause(e), new Metadata());
    } catch (IllegalStateException alreadyClosed) {
      // The handler had answered before it threw: nothing more to send.
    }
  }
}
