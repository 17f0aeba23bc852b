package io.snakepit.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import com.google.protobuf.InvalidProtocolBufferException;
import io.snakepit.Affinity;
import io.snakepit.CallOptions;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.Result;
import io.snakepit.proto.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One pool of this node, as the other nodes reach it: registered with the Receptionist under the pool's name, it takes
 * calls from other nodes as {@link ClusterMessage}s (the request as protobuf bytes), runs them on the node's own pool
 * (never routed on again) and answers the caller's {@link PoolDirectory} with the result or the typed error. A
 * streaming call is served by a {@link ServedStream} of its own, which this endpoint starts.
 */
public final class PoolEndpoint extends AbstractBehavior<PoolEndpoint.Command> {

  /** What the endpoint takes. */
  public interface Command {}

  /**
   * A call from another node.
   *
   * @param callId the caller's id of the call, unique on the caller's node
   * @param request the {@code ExecuteRequest}'s protobuf bytes
   * @param timeoutNanos the call's deadline from now, 0 for the pool's {@code call-timeout}
   * @param idempotent whether the caller marked it so
   * @param session the call's session id, or null
   * @param affinity the session's {@link Affinity} by name, or null
   * @param replyTo the caller's directory
   */
  public record Call(String callId, byte[] request, long timeoutNanos, boolean idempotent, String session,
      String affinity, ActorRef<PoolDirectory.Command> replyTo) implements Command, ClusterMessage {}

  /** The caller cancelled call {@code callId} (or its deadline passed on its side). */
  public record Cancel(String callId, ActorRef<PoolDirectory.Command> replyTo) implements Command, ClusterMessage {}

  private record Done(String key, Call call, Result result, Throwable error) implements Command {}

  private final ClusterPools.Local pool;
  private final String node;
  private final int frameLimit;
  private final Map<String, CompletableFuture<Result>> running = new HashMap<>();
  /** Streams served so far, naming each one's actor. */
  private long streams;

  private PoolEndpoint(ActorContext<Command> context, ClusterPools.Local pool, String node, int frameLimit) {
    super(context);
    this.pool = pool;
    this.node = node;
    this.frameLimit = frameLimit;
  }

  /** The endpoint of {@code pool}, on node {@code node}, answering in frames of at most {@code frameLimit} bytes. */
  static Behavior<Command> create(ClusterPools.Local pool, String node, int frameLimit) {
    return Behaviors.setup(ctx -> new PoolEndpoint(ctx, pool, node, frameLimit));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Call.class, this::onCall)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(Done.class, this::onDone)
        .onMessage(StreamProtocol.Open.class, this::onStream)
        .build();
  }

  private Behavior<Command> onCall(Call call) {
    ExecuteRequest request;
    try {
      request = ExecuteRequest.parseFrom(call.request());
    } catch (InvalidProtocolBufferException e) {
      answer(call, null, new InvalidArgumentsException("the call from another node is not a valid ExecuteRequest: "
          + e.getMessage()));
      return this;
    }
    CallOptions options = CallOptions.defaults().withIdempotent(call.idempotent());
    if (call.timeoutNanos() > 0) {
      options = options.withTimeout(Duration.ofNanos(call.timeoutNanos()));
    }
    if (call.session() != null) {
      options = options.withSession(call.session(), Affinity.valueOf(call.affinity()));
    }
    String key = key(call.callId(), call.replyTo());
    CompletableFuture<Result> result = pool.call(request, options);
    running.put(key, result);
    getContext().pipeToSelf(result, (r, e) -> new Done(key, call, r, e));
    return this;
  }

  /** A streaming call: its own actor serves it, and the caller talks to that actor from then on. */
  private Behavior<Command> onStream(StreamProtocol.Open open) {
    getContext().spawn(ServedStream.create(open, pool, node, frameLimit), "stream-" + (++streams));
    return this;
  }

  private Behavior<Command> onCancel(Cancel cancel) {
    CompletableFuture<Result> result = running.get(key(cancel.callId(), cancel.replyTo()));
    if (result != null) {
      result.cancel(true);
    }
    return this;
  }

  private Behavior<Command> onDone(Done done) {
    running.remove(done.key());
    answer(done.call(), done.result(), done.error());
    return this;
  }

  private void answer(Call call, Result result, Throwable error) {
    byte[] value = null;
    RemoteError failed = error == null ? null : RemoteError.of(error);
    if (failed == null) {
      value = result.isBytes() ? result.bytes() : result.json().getBytes(StandardCharsets.UTF_8);
      if (value.length > frameLimit) {
        failed = RemoteError.of(new MessageTooLargeException("the result of the call is " + value.length
            + " bytes, over the " + frameLimit + " bytes a message between cluster nodes may carry ("
            + ClusterPools.FRAME_SETTING + "); the tool ran on node " + node + ". Return less, or raise "
            + ClusterPools.FRAME_SETTING + " on every node"));
        value = null;
      }
    }
    PoolDirectory.Reply reply = new PoolDirectory.Reply(call.callId(), value, failed == null && result.isBytes(),
        failed, pool.name(), node, pool.load());
    call.replyTo().tell(reply);
  }

  private static String key(String callId, ActorRef<?> replyTo) {
    return callId + "@" + replyTo.path();
  }
}
