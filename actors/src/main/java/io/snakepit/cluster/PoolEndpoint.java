package io.snakepit.cluster;

import akka.actor.Cancellable;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import com.google.protobuf.InvalidProtocolBufferException;
import io.snakepit.Affinity;
import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.InvalidArgumentsException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.Result;
import io.snakepit.proto.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

  /**
   * Does this node's pool hold session {@code session}? Asked by a session's binding started anew; answered with
   * {@link SessionBinding.Held}.
   */
  public record SessionHeld(String session, ActorRef<SessionBinding.Command> replyTo)
      implements Command, ClusterMessage {}

  /**
   * One part of a call whose request does not fit one frame: {@code call} with the part's bytes as its request.
   *
   * @param call the call, its request being part {@code index} of the request's bytes
   * @param index the part's place, from 0
   * @param count how many parts the request is in
   */
  public record CallPart(Call call, int index, int count) implements Command, ClusterMessage {}

  private record Done(String key, Call call, Result result, Throwable error) implements Command {}

  /** The deadline of a request still in parts passed. */
  private record PartsExpired(String key, Parts.Joining joining) implements Command {}

  /** The node of a caller that has requests in parts here was lost. */
  private record CallerLost(ActorRef<PoolDirectory.Command> caller) implements Command {}

  /**
   * A request on its way in parts: the call as its first part to come named it, when that came, and the timer of its
   * deadline, or of {@code snakepit.cluster.parts-timeout} for a call without one.
   */
  private record Partial(Call head, long startedNanos, Parts.Joining joining, Cancellable expiry) {}

  private final ClusterPools.Local pool;
  private final String node;
  private final int frameLimit;
  private final Duration partsTimeout;
  private final Map<String, CompletableFuture<Result>> running = new HashMap<>();
  /**
   * Requests on their way in parts, by call. Bounded: each holds at most the pool's max-message-size (its parts are
   * refused past it), and each ends with its call, when the last part comes, when the caller cancels it, when its
   * deadline (or, without one, parts-timeout) passes, or when the caller's node is lost (its directory is watched),
   * so a caller cannot leave parts here that outlive its calls, nor a part artery lost keep the rest forever.
   */
  private final Map<String, Partial> partials = new HashMap<>();
  /**
   * How many parts are still to come of requests answered before they were whole (refused, or past their deadline):
   * those parts are dropped as they come instead of starting the request anew. An entry holds no bytes, ends with the
   * request's last part, and goes with its caller's node.
   */
  private final Map<String, Integer> unwanted = new HashMap<>();
  /** The callers' directories watched for the loss of their node. */
  private final Set<ActorRef<PoolDirectory.Command>> watched = new HashSet<>();
  /** Streams served so far, naming each one's actor. */
  private long streams;

  private PoolEndpoint(ActorContext<Command> context, ClusterPools.Local pool, String node, int frameLimit) {
    super(context);
    this.pool = pool;
    this.node = node;
    this.frameLimit = frameLimit;
    this.partsTimeout = context.getSystem().settings().config().getDuration(ClusterPools.PARTS_TIMEOUT);
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
        .onMessage(SessionHeld.class, this::onSessionHeld)
        .onMessage(CallPart.class, this::onCallPart)
        .onMessage(PartsExpired.class, this::onPartsExpired)
        .onMessage(CallerLost.class, this::onCallerLost)
        .onMessage(StreamProtocol.Open.class, this::onStream)
        .build();
  }

  private Behavior<Command> onSessionHeld(SessionHeld asked) {
    pool.sessionIdleMillis(asked.session()).whenComplete((idle, error) ->
        asked.replyTo().tell(new SessionBinding.Held(node, error == null ? idle : -1)));
    return this;
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
    dropPartial(key(cancel.callId(), cancel.replyTo()));
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
    }
    PoolDirectory.Reply reply = new PoolDirectory.Reply(call.callId(), value, failed == null && result.isBytes(),
        failed, pool.name(), node, pool.load());
    if (value != null && value.length > frameLimit - ClusterPools.ENVELOPE) {
      answerInParts(reply, call.replyTo());
      return;
    }
    call.replyTo().tell(reply);
  }

  /** A result larger than a frame goes back in parts, each a {@link PoolDirectory.ReplyPart}. */
  private void answerInParts(PoolDirectory.Reply reply, ActorRef<PoolDirectory.Command> replyTo) {
    List<byte[]> parts = Parts.split(reply.value(), frameLimit - ClusterPools.ENVELOPE);
    for (int i = 0; i < parts.size(); i++) {
      replyTo.tell(new PoolDirectory.ReplyPart(new PoolDirectory.Reply(reply.callId(), parts.get(i), reply.bytes(),
          null, reply.pool(), reply.node(), reply.load()), i, parts.size()));
    }
  }

  /** A part of a request too large for one frame; the last one to come runs the call as {@link #onCall} would. */
  private Behavior<Command> onCallPart(CallPart part) {
    Call call = part.call();
    String key = key(call.callId(), call.replyTo());
    Integer left = unwanted.get(key);
    if (left != null) {
      if (left <= 1) {
        unwanted.remove(key);
      } else {
        unwanted.put(key, left - 1);
      }
      return this;
    }
    byte[] whole;
    try {
      Partial partial = partials.get(key);
      if (partial == null) {
        partial = startPartial(key, call, part.count());
      }
      whole = partial.joining().add(part.index(), part.count(), call.request());
    } catch (Parts.TooLarge e) {
      forget(key, part.count(), 1);
      answer(call, null, new MessageTooLargeException("the arguments of a call from " + call.replyTo().path()
          .address() + " are larger than pool '" + pool.name() + "''s max-message-size of " + pool.maxMessageSize()
          + " bytes on node " + node + " (" + e.getMessage() + "); nothing ran. Send less (split the call), or raise"
          + " max-message-size of pool '" + pool.name() + "' on node " + node));
      return this;
    } catch (IllegalArgumentException e) {
      forget(key, part.count(), 1);
      answer(call, null, new InvalidArgumentsException("the parts of a call from another node do not join: "
          + e.getMessage()));
      return this;
    }
    if (whole == null) {
      return this;
    }
    Partial joined = partials.get(key);
    dropPartial(key);
    // The time its parts took to come is the call's too (its timer would have ended it past the deadline).
    long timeout = call.timeoutNanos() <= 0 ? call.timeoutNanos()
        : Math.max(1, call.timeoutNanos() - (System.nanoTime() - joined.startedNanos()));
    return onCall(new Call(call.callId(), whole, timeout, call.idempotent(), call.session(), call.affinity(),
        call.replyTo()));
  }

  private Partial startPartial(String key, Call call, int count) {
    Parts.Joining joining = new Parts.Joining(count, pool.maxMessageSize());
    Duration limit = call.timeoutNanos() > 0 ? Duration.ofNanos(call.timeoutNanos()) : partsTimeout;
    Cancellable expiry = getContext().scheduleOnce(limit, getContext().getSelf(), new PartsExpired(key, joining));
    if (watched.add(call.replyTo())) {
      getContext().watchWith(call.replyTo(), new CallerLost(call.replyTo()));
    }
    Partial partial = new Partial(call, System.nanoTime(), joining, expiry);
    partials.put(key, partial);
    return partial;
  }

  /**
   * Drops the request in parts {@code key}, answered before it was whole, and lets its parts still to come go unseen:
   * of its {@code count} parts, the ones it took and {@code more} more have come.
   */
  private void forget(String key, int count, int more) {
    Partial partial = partials.get(key);
    int seen = more + (partial == null ? 0 : partial.joining().received());
    int total = partial == null ? count : partial.joining().count();
    dropPartial(key);
    if (total > seen) {
      unwanted.put(key, total - seen);
    }
  }

  private void dropPartial(String key) {
    unwanted.remove(key);
    Partial partial = partials.remove(key);
    if (partial != null && partial.expiry() != null) {
      partial.expiry().cancel();
    }
  }

  private Behavior<Command> onPartsExpired(PartsExpired expired) {
    Partial partial = partials.get(expired.key());
    if (partial == null || partial.joining() != expired.joining()) {
      return this; // joined or dropped meanwhile
    }
    forget(expired.key(), partial.joining().count(), 0);
    Call head = partial.head();
    String came = partial.joining().received() + " of " + partial.joining().count() + " parts of its arguments ("
        + partial.joining().size() + " bytes) reached node " + node;
    answer(head, null, new CallTimeoutException(head.timeoutNanos() > 0
        ? "the call's deadline of " + Duration.ofNanos(head.timeoutNanos()).toMillis() + " ms passed when only "
            + came + "; nothing ran. Give the call more time (CallOptions.withTimeout), or send less"
        : "only " + came + " within " + ClusterPools.PARTS_TIMEOUT + " = " + partsTimeout.toMillis() + " ms (a"
            + " part was lost on the way, as artery drops messages past its send queue); nothing ran. Call again,"
            + " send fewer large calls at once, or raise " + ClusterPools.PARTS_TIMEOUT));
    return this;
  }

  private Behavior<Command> onCallerLost(CallerLost lost) {
    watched.remove(lost.caller());
    List<String> gone = partials.entrySet().stream()
        .filter(e -> e.getValue().head().replyTo().equals(lost.caller())).map(Map.Entry::getKey).toList();
    gone.forEach(this::dropPartial);
    unwanted.keySet().removeIf(key -> key.endsWith("@" + lost.caller().path()));
    return this;
  }

  private static String key(String callId, ActorRef<?> replyTo) {
    return callId + "@" + replyTo.path();
  }
}
