package io.snakepit.cli;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.snakepit.Affinity;
import io.snakepit.CallOptions;
import java.util.Locale;

/**
 * The session a gateway client's call belongs to: its {@code snakepit-session} metadata (the session id) and
 * {@code snakepit-affinity} ({@code hint}, {@code strict-queue} or {@code strict-fail-fast}; {@code strict-queue} when
 * absent), kept for the call's handler, which calls the pool as {@code executeInSession} does. The request message is
 * the worker's own and carries no session, hence headers.
 */
final class GatewaySession implements ServerInterceptor {
  static final Metadata.Key<String> SESSION = Metadata.Key.of("snakepit-session", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> AFFINITY = Metadata.Key.of("snakepit-affinity",
      Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<String> ID = Context.key("snakepit-session");
  private static final Context.Key<String> MODE = Context.key("snakepit-affinity");

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String id = headers.get(SESSION);
    if (id == null || id.isEmpty()) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(ID, id).withValue(MODE, headers.get(AFFINITY)), call,
        headers, next);
  }

  /**
   * {@code options} in the client's session, if it named one.
   *
   * @throws IllegalArgumentException for an affinity that is not one of the three, naming the header and the values
   */
  static CallOptions apply(CallOptions options) {
    String id = ID.get();
    return id == null ? options : options.withSession(id, affinity(MODE.get()));
  }

  static Affinity affinity(String header) {
    if (header == null || header.isEmpty()) {
      return Affinity.STRICT_QUEUE;
    }
    try {
      return Affinity.valueOf(header.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the gateway metadata " + AFFINITY.name() + " = '" + header + "' is not an"
          + " affinity: send hint, strict-queue or strict-fail-fast (or leave it out for strict-queue)", e);
    }
  }
}
