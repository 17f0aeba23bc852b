package io.snakepit.cluster;

import akka.actor.typed.ActorRef;
import io.snakepit.CallOptions;
import io.snakepit.MessageTooLargeException;
import io.snakepit.NodeLostException;
import io.snakepit.Result;
import io.snakepit.actors.worker.StreamItems;
import io.snakepit.proto.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The streaming calls this node sent to other nodes, waiting for their items: it opens a stream at another node's
 * endpoint, grants credits as the caller takes items, relays cancellation, and fails (or, if idempotent, sends
 * elsewhere) the streams of a lost node. It exists apart from {@link ClusterPools} so that the stream's bookkeeping
 * (a window per call, who is where) does not mix with the unary calls'. Its messages come in on the directory's
 * thread; cancellation may come from any.
 */
final class RemoteStreams {
  private final ClusterPools pools;
  private final ActorRef<PoolDirectory.Command> directory;
  private final int frameLimit;
  private final int window;
  private final AtomicLong ids = new AtomicLong();
  private final Map<String, Flow> flows = new ConcurrentHashMap<>();

  RemoteStreams(ClusterPools pools, ActorRef<PoolDirectory.Command> directory, int frameLimit, int window) {
    this.pools = pools;
    this.directory = directory;
    this.frameLimit = frameLimit;
    this.window = window;
  }

  /** One stream sent to another node. */
  private static final class Flow {
    final String callId;
    final String pool;
    final ExecuteRequest request;
    final CallOptions options;
    final StreamItems items;
    final CompletableFuture<Void> promise;
    final Consumer<CompletableFuture<Void>> local;
    final ClusterPools.Remote target;
    /** An unpaced receiver's callback runs here, one item at a time, not on the directory's thread. */
    final Executor callbacks;
    /** Guarded by this flow: where the stream is served, once known, and whether the caller gave it up. */
    private ActorRef<ServedStream.Command> served;
    private boolean cancelled;
    /** The serving call's latest start (set on the directory's thread). */
    volatile int attempt;
    /** An unpaced receiver's items taken since its last grant (on its callbacks' executor only). */
    int taken;

    Flow(String callId, String pool, ExecuteRequest request, CallOptions options, StreamItems items,
        CompletableFuture<Void> promise, Consumer<CompletableFuture<Void>> local, ClusterPools.Remote target) {
      this.callId = callId;
      this.pool = pool;
      this.request = request;
      this.options = options;
      this.items = items;
      this.promise = promise;
      this.local = local;
      this.target = target;
      this.callbacks = items.paced() ? Runnable::run : new Serial();
    }

    void accepted(ActorRef<ServedStream.Command> ref) {
      boolean cancel;
      synchronized (this) {
        served = ref;
        cancel = cancelled;
      }
      if (cancel) {
        ref.tell(StreamProtocol.Cancel.INSTANCE);
      }
    }

    void cancel() {
      ActorRef<ServedStream.Command> ref;
      synchronized (this) {
        cancelled = true;
        ref = served;
      }
      if (ref != null) {
        ref.tell(StreamProtocol.Cancel.INSTANCE);
      }
    }

    synchronized ActorRef<ServedStream.Command> served() {
      return served;
    }
  }

  /**
   * Opens {@code request}'s stream on {@code target}'s node; its items go to {@code items} and its end completes
   * {@code promise}. {@code local} starts it on this node's own pool, should the target be lost and the stream be
   * idempotent (null when this node has no such pool).
   */
  void open(String pool, ExecuteRequest request, CallOptions options, StreamItems items,
      CompletableFuture<Void> promise, Consumer<CompletableFuture<Void>> local, ClusterPools.Remote target) {
    byte[] bytes = request.toByteArray();
    if (bytes.length + ClusterPools.ENVELOPE > frameLimit) {
      promise.completeExceptionally(new MessageTooLargeException("the arguments of streaming tool '"
          + request.getTool() + "' are " + bytes.length + " bytes, over the " + (frameLimit - ClusterPools.ENVELOPE)
          + " bytes a stream to another node may carry (" + ClusterPools.FRAME_SETTING + " less room for the call's"
          + " fields; a stream's arguments are not sent in parts); nothing was sent. Send less, or raise "
          + ClusterPools.FRAME_SETTING + " on every node"));
      return;
    }
    String callId = "s" + ids.incrementAndGet();
    Flow flow = new Flow(callId, pool, request, options, items, promise, local, target);
    target.sent.incrementAndGet();
    flows.put(callId, flow);
    // Cancelled by the caller (downstream, its deadline, a gateway client): the serving node cancels the call. The
    // flow stays until the serving node's end arrives, or its node is lost.
    promise.whenComplete((done, error) -> {
      if (promise.isCancelled() && flows.get(callId) == flow) {
        flow.cancel();
      }
    });
    target.ref.tell(new StreamProtocol.Open(callId, bytes, options.timeout().toNanos(), options.idempotent(),
        options.session(), options.session() == null ? null : options.affinity().name(), directory));
    if (!pools.registered(pool, target)) {
      lost(target); // its node left the listing between the choice and the put above
    }
  }

  /** What the serving node told of a stream; on the directory's thread. */
  void on(StreamProtocol.ToCaller event) {
    Flow flow = flows.get(event.callId());
    if (flow == null) {
      return; // ended, or sent elsewhere after its node was lost
    }
    if (event instanceof StreamProtocol.Accepted a) {
      flow.accepted(a.stream());
    } else if (event instanceof StreamProtocol.Started s) {
      onStarted(flow, s.attempt());
    } else if (event instanceof StreamProtocol.Item i) {
      Result item = i.bytes() ? Result.ofBytes(i.value()) : Result.ofJson(new String(i.value(), StandardCharsets.UTF_8));
      flow.callbacks.execute(() -> deliver(flow, item));
    } else if (event instanceof StreamProtocol.End end) {
      if (!flows.remove(end.callId(), flow)) {
        return;
      }
      flow.target.sent.decrementAndGet();
      flow.callbacks.execute(() -> {
        if (end.error() == null) {
          flow.promise.complete(null);
        } else {
          flow.promise.completeExceptionally(end.error().toException(end.node()));
        }
      });
    }
  }

  private void onStarted(Flow flow, int attempt) {
    flow.attempt = attempt;
    ActorRef<ServedStream.Command> served = flow.served();
    if (flow.items.paced()) {
      // The receiver's own window (a stream's source) grants the credits as downstream takes items.
      flow.items.started(n -> served.tell(new StreamProtocol.Demand(attempt, n)));
    } else {
      flow.callbacks.execute(() -> flow.taken = 0);
      served.tell(new StreamProtocol.Demand(attempt, window));
    }
  }

  /** Hands an item to the receiver; an unpaced one grants credits as its callback returns. */
  private void deliver(Flow flow, Result item) {
    if (flow.promise.isDone()) {
      return;
    }
    try {
      flow.items.onItem(item);
    } catch (RuntimeException e) {
      flow.promise.completeExceptionally(e);
      flow.cancel();
      return;
    }
    if (!flow.items.paced() && ++flow.taken >= Math.max(1, window / 2)) {
      flow.served().tell(new StreamProtocol.Demand(flow.attempt, flow.taken));
      flow.taken = 0;
    }
  }

  /** Fails, or starts again elsewhere, the streams in flight to an endpoint whose node was lost. */
  void lost(ClusterPools.Remote gone) {
    for (Map.Entry<String, Flow> e : flows.entrySet()) {
      Flow f = e.getValue();
      if (f.target != gone || !flows.remove(e.getKey(), f)) {
        continue;
      }
      gone.sent.decrementAndGet();
      if (f.promise.isDone()) {
        continue;
      }
      if (f.options.idempotent()) {
        // It starts over: its first items come again, as after a worker's crash on one node.
        pools.submitStream(f.pool, f.request, f.options, f.items, f.promise, f.local);
      } else {
        f.callbacks.execute(() -> f.promise.completeExceptionally(new NodeLostException(gone.node, "node "
            + gone.node + " was lost (it left the cluster or was downed) while it streamed the items of tool '"
            + f.request.getTool() + "' in pool '" + f.pool + "'; the items before it were delivered. Call again"
            + " (another node serves it), or mark streams that are safe to start over with"
            + " CallOptions.withIdempotent(true) to have them started again on another node")));
      }
    }
  }

  /** Runs tasks one at a time, in order, on the common pool. */
  private static final class Serial implements Executor {
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean running = new AtomicBoolean();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
      schedule();
    }

    private void schedule() {
      if (running.compareAndSet(false, true)) {
        ForkJoinPool.commonPool().execute(this::drain);
      }
    }

    private void drain() {
      try {
        Runnable task;
        while ((task = tasks.poll()) != null) {
          task.run();
        }
      } finally {
        running.set(false);
        if (!tasks.isEmpty()) {
          schedule();
        }
      }
    }
  }
}
