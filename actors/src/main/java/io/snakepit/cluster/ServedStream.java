package io.snakepit.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
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
import io.snakepit.actors.worker.StreamItems;
import io.snakepit.proto.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

/**
 * One streaming call from another node, on the node that serves it: it runs the call on the node's own pool (never
 * routed on again), paced by the credits the caller grants, and relays the call's starts, items and end to the
 * caller's directory in the order they happened. It exists as an actor of its own (a child of the pool's
 * {@link PoolEndpoint}) so that a stream's state lives and ends with it, and so that it can watch the caller: when
 * the caller's node is gone, nothing would ever grant credits again, so the call is cancelled.
 */
public final class ServedStream extends AbstractBehavior<ServedStream.Command> {

  /** What the stream takes: {@link StreamProtocol.Demand} and {@link StreamProtocol.Cancel} from the caller. */
  public interface Command {}

  private record Began(IntConsumer demand) implements Command {}

  private record Yielded(Result item) implements Command {}

  private record Ended(Throwable error) implements Command {}

  /** Room in a frame for an item's own fields beside its value. */
  private static final int ENVELOPE = 1024;

  private final StreamProtocol.Open open;
  private final ClusterPools.Local pool;
  private final String node;
  private final int frameLimit;
  private final CompletableFuture<Void> promise = new CompletableFuture<>();
  private IntConsumer demand;
  private int attempt;
  /** Why this actor ended the stream itself (an item too large), or null. */
  private Throwable failure;

  private ServedStream(ActorContext<Command> context, StreamProtocol.Open open, ClusterPools.Local pool, String node,
      int frameLimit) {
    super(context);
    this.open = open;
    this.pool = pool;
    this.node = node;
    this.frameLimit = frameLimit;
  }

  /** Serves {@code open} on {@code pool} of node {@code node}, in frames of at most {@code frameLimit} bytes. */
  static Behavior<Command> create(StreamProtocol.Open open, ClusterPools.Local pool, String node, int frameLimit) {
    return Behaviors.setup(ctx -> {
      ServedStream s = new ServedStream(ctx, open, pool, node, frameLimit);
      s.start();
      return s;
    });
  }

  private void start() {
    ActorRef<Command> self = getContext().getSelf();
    getContext().watch(open.replyTo());
    open.replyTo().tell(new StreamProtocol.Accepted(open.callId(), self));
    ExecuteRequest request;
    try {
      request = ExecuteRequest.parseFrom(open.request());
    } catch (InvalidProtocolBufferException e) {
      promise.completeExceptionally(new InvalidArgumentsException("the streaming call from another node is not a"
          + " valid ExecuteRequest: " + e.getMessage()));
      getContext().pipeToSelf(promise, (done, error) -> new Ended(error));
      return;
    }
    CallOptions options = CallOptions.defaults().withIdempotent(open.idempotent());
    if (open.timeoutNanos() > 0) {
      options = options.withTimeout(Duration.ofNanos(open.timeoutNanos()));
    }
    if (open.session() != null) {
      options = options.withSession(open.session(), Affinity.valueOf(open.affinity()));
    }
    getContext().pipeToSelf(promise, (done, error) -> new Ended(error));
    // The pool's callbacks run on its worker's and gRPC's threads: they only tell this actor.
    pool.stream(request, options, new StreamItems() {
      @Override
      public void onItem(Result item) {
        self.tell(new Yielded(item));
      }

      @Override
      public boolean paced() {
        return true;
      }

      @Override
      public void started(IntConsumer demand) {
        self.tell(new Began(demand));
      }
    }, promise);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Began.class, this::onBegan)
        .onMessage(Yielded.class, this::onYielded)
        .onMessage(Ended.class, this::onEnded)
        .onMessage(StreamProtocol.Demand.class, this::onDemand)
        .onMessageEquals(StreamProtocol.Cancel.INSTANCE, this::onCancel)
        .onSignal(Terminated.class, t -> onCallerGone())
        .build();
  }

  private Behavior<Command> onBegan(Began began) {
    demand = began.demand();
    attempt++;
    open.replyTo().tell(new StreamProtocol.Started(open.callId(), attempt));
    return this;
  }

  private Behavior<Command> onYielded(Yielded yielded) {
    if (failure != null) {
      return this; // failed here already (an item too large): what the worker still sent goes nowhere
    }
    Result item = yielded.item();
    byte[] value = item.isBytes() ? item.bytes() : item.json().getBytes(StandardCharsets.UTF_8);
    if (value.length + ENVELOPE > frameLimit) {
      // Fail the stream here, after the items before it; cancelling stops the worker's generator.
      failure = new MessageTooLargeException("an item of the stream is " + value.length
          + " bytes, over the " + (frameLimit - ENVELOPE) + " bytes an item from another node may carry ("
          + ClusterPools.FRAME_SETTING + " less room for the item's fields); the tool ran on node " + node
          + ". Yield smaller items, or raise " + ClusterPools.FRAME_SETTING + " on every node");
      promise.cancel(false);
      return this;
    }
    open.replyTo().tell(new StreamProtocol.Item(open.callId(), value, item.isBytes()));
    return this;
  }

  private Behavior<Command> onEnded(Ended ended) {
    Throwable e = failure != null ? failure : ended.error();
    RemoteError error = e == null ? null : RemoteError.of(e);
    open.replyTo().tell(new StreamProtocol.End(open.callId(), error, pool.name(), node, pool.load()));
    return Behaviors.stopped();
  }

  private Behavior<Command> onDemand(StreamProtocol.Demand d) {
    if (demand != null && d.attempt() == attempt) {
      demand.accept(d.items());
    }
    return this;
  }

  private Behavior<Command> onCancel() {
    promise.cancel(false);
    return this;
  }

  /** The caller's node is gone: no one would take the items or grant credits again. */
  private Behavior<Command> onCallerGone() {
    promise.cancel(false);
    return Behaviors.stopped();
  }
}
