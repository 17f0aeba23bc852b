package io.snakepit.cli;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.snakepit.proto.ExecuteRequest;
import java.util.List;

/**
 * The W3C trace context a gateway client sends: its {@code traceparent} (and {@code tracestate}) metadata, kept for
 * the call's handler, which makes it the parent of the node's span for the call.
 */
final class GatewayTracing implements ServerInterceptor {
  /** The header a client's trace context comes in. */
  static final Metadata.Key<String> TRACEPARENT = Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACESTATE = Metadata.Key.of("tracestate",
      Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<Metadata> HEADERS = Context.key("snakepit-trace-headers");

  private static final TextMapGetter<Metadata> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Metadata carrier) {
      return List.of(TRACEPARENT.name(), TRACESTATE.name());
    }

    @Override
    public String get(Metadata carrier, String key) {
      return carrier == null ? null : carrier.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
    }
  };

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (!headers.containsKey(TRACEPARENT)) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(HEADERS, headers), call, headers, next);
  }

  /**
   * The OpenTelemetry context the call's span is a child of: the client's {@code traceparent} header, else the
   * request's own {@code traceparent} field, else none (the root). An unreadable value is ignored, as W3C asks.
   */
  static io.opentelemetry.context.Context parent(ExecuteRequest request) {
    io.opentelemetry.context.Context root = io.opentelemetry.context.Context.root();
    Metadata headers = HEADERS.get();
    if (headers == null && !request.getTraceparent().isEmpty()) {
      headers = new Metadata();
      headers.put(TRACEPARENT, request.getTraceparent());
    }
    return headers == null ? root : W3CTraceContextPropagator.getInstance().extract(root, headers, GETTER);
  }
}
