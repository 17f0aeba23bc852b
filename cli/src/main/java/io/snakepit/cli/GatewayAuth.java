package io.snakepit.cli;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * Admits a gateway call only if it carries the node's token as {@code authorization: Bearer TOKEN}; any other call
 * ends with {@code UNAUTHENTICATED} before it reaches a pool.
 */
final class GatewayAuth implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization",
      Metadata.ASCII_STRING_MARSHALLER);
  static final String SCHEME = "Bearer ";

  /** {@code Bearer TOKEN} as the header carries it. */
  private final byte[] expected;
  private final String howTo;

  /** A node's own token, written to {@code tokenFile} at this start. */
  GatewayAuth(String token, Path tokenFile) {
    this(token, tokenFile, false);
  }

  /**
   * @param given whether the token was given to the node in {@code tokenFile} (serve's --token-file, the same on
   *     every node that shares it) rather than made at this start
   */
  GatewayAuth(String token, Path tokenFile, boolean given) {
    this.expected = (SCHEME + token).getBytes(StandardCharsets.UTF_8);
    this.howTo = (given ? "The node takes its token from " + tokenFile + " (serve's --token-file), which every node"
        + " given that file shares. snakepit call and load take it with --token-file FILE or SNAKEPIT_TOKEN"
        : "The node wrote its token to " + tokenFile + ", readable by the node's user only and new at every"
        + " start. snakepit call and load take it with --data-dir DIR (the node's), --token-file FILE or"
        + " SNAKEPIT_TOKEN") + "; other clients send the metadata 'authorization: Bearer TOKEN'";
  }

  /** Metadata that carries {@code token}, for a client. */
  static Metadata header(String token) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, SCHEME + token);
    return headers;
  }

  /** Whether an {@code Authorization} value (null: none) carries the node's token; the HTTP endpoint asks too. */
  boolean admits(String authorization) {
    // isEqual's time depends only on the length sent, never on where the bytes differ or on the token's length.
    return authorization != null && MessageDigest.isEqual(authorization.getBytes(StandardCharsets.UTF_8), expected);
  }

  /** Where the token is and how a client sends it. */
  String howTo() {
    return howTo;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String sent = headers.get(AUTHORIZATION);
    if (admits(sent)) {
      return next.startCall(call, headers);
    }
    String why = sent == null ? "this call carries no gateway token. " : "the gateway token this call carries is"
        + " not this node's. ";
    call.close(Status.UNAUTHENTICATED.withDescription(why + howTo), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
