package io.snakepit;

import akka.NotUsed;
import akka.stream.javadsl.Source;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.opentelemetry.context.Context;
import io.snakepit.actors.CallTracing;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLink;
import io.snakepit.actors.stream.CallSource;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.StreamItems;
import io.snakepit.cluster.ClusterPools;
import io.snakepit.proto.ExecuteRequest;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A named pool of Python workers that all run the same adapter. Obtain one from {@link Snakepit#pool(String)}.
 *
 * <p>Calls never block: each returns a stage that completes with the tool's result or fails with a
 * {@link SnakepitException} subclass that names what went wrong. Calls made before the pool is ready wait in its
 * queue.
 *
 * <p>Two APIs sit side by side. The JSON one takes arguments as JSON text and returns {@link Result}s. The typed one
 * takes any Java value Jackson serializes to a JSON object (a record, a {@code Map}, a bean; a {@code String} is a
 * JSON string, not JSON text, and is refused) and maps the result to a class or {@link TypeReference}, with
 * {@link #defaultObjectMapper()} unless {@link #withObjectMapper} gave another. Streaming tools are read either with a
 * callback ({@link #executeStream}) or as an Akka Streams {@link Source} with backpressure ({@link #stream}).
 *
 * <p>A {@code Pool} is immutable and thread-safe.
 */
public final class Pool {
  private static final AtomicLong CALLS = new AtomicLong();
  private static final ObjectMapper DEFAULT_MAPPER = TypedJson.newDefaultMapper();
  /** Items a {@link #stream} asks its call for ahead of what downstream has taken. */
  static final int STREAM_WINDOW = 16;

  private final String name;
  private final PoolLink actor;
  private final int maxMessageSize;
  private final ObjectMapper mapper;
  private final CallTracing tracing;
  /** The cluster's pools of this name, or null on a node that runs alone (its calls go straight to its pool). */
  private final ClusterPools cluster;

  Pool(String name, PoolLink link, int maxMessageSize) {
    this(name, link, maxMessageSize, new CallTracing(null));
  }

  Pool(String name, PoolLink link, int maxMessageSize, CallTracing tracing) {
    this(name, link, maxMessageSize, DEFAULT_MAPPER, tracing, null);
  }

  /** A pool of a clustered node; {@code link} is null when only other nodes have a pool of this name. */
  Pool(String name, PoolLink link, int maxMessageSize, CallTracing tracing, ClusterPools cluster) {
    this(name, link, maxMessageSize, DEFAULT_MAPPER, tracing, cluster);
  }

  private Pool(String name, PoolLink link, int maxMessageSize, ObjectMapper mapper, CallTracing tracing,
      ClusterPools cluster) {
    this.name = name;
    this.actor = link;
    this.maxMessageSize = maxMessageSize;
    this.mapper = mapper;
    this.tracing = tracing;
    this.cluster = cluster;
  }

  /**
   * A new mapper configured as the typed calls' default: Jackson's defaults (records, beans, maps; unknown
   * properties in a result fail the call), plus {@code Optional} and {@code java.time} (written as ISO-8601 text).
   * Start from it to add modules, then pass it to {@link #withObjectMapper}.
   */
  public static ObjectMapper defaultObjectMapper() {
    return TypedJson.newDefaultMapper();
  }

  /**
   * This pool, with its typed calls and typed streams using {@code mapper} for arguments and results (the JSON calls
   * are unaffected). The mapper must not be reconfigured afterwards: it is used from many threads.
   */
  public Pool withObjectMapper(ObjectMapper mapper) {
    return new Pool(name, actor, maxMessageSize, Objects.requireNonNull(mapper, "mapper"), tracing, cluster);
  }

  /** The mapper of this pool's typed calls. */
  public ObjectMapper objectMapper() {
    return mapper;
  }

  /** The pool's name, as configured under {@code snakepit.pools}. */
  public String name() {
    return name;
  }

  /** The largest message, in bytes, that goes between this pool's callers and its workers ({@code max-message-size}). */
  public int maxMessageSize() {
    return maxMessageSize;
  }

  /**
   * Calls {@code tool} with keyword arguments given as a JSON object ({@code null} or empty for none).
   *
   * @return the tool's result; fails with {@link PythonException} if the tool raised, {@link UnknownToolException},
   *     {@link InvalidArgumentsException}, {@link MessageTooLargeException}, {@link PoolSaturatedException} or
   *     {@link WorkerCrashedException}
   */
  public CompletionStage<Result> execute(String tool, String argsJson) {
    return submit(request(tool, argsJson, null), CallOptions.defaults());
  }

  /**
   * As {@link #execute(String, String)}, with a deadline or other options. Cancelling the returned stage cancels the
   * call in the worker (the tool sees it through {@code current_call().cancelled()}).
   */
  public CompletionStage<Result> execute(String tool, String argsJson, CallOptions options) {
    return submit(request(tool, argsJson, null), Objects.requireNonNull(options, "options"));
  }

  /**
   * Calls {@code tool} with {@code args} serialized by Jackson as its keyword arguments ({@code null}: none), and maps
   * its result to {@code resultType} ({@code byte[]} takes a tool's raw bytes; {@code Result} takes the result as
   * is).
   *
   * <p>The result is mapped on the common {@code ForkJoinPool}, so the stage completes there. Cancelling the stage
   * cancels the call in the worker.
   *
   * @return the mapped result; fails with {@link InvalidArgumentsException} at once, nothing sent, if {@code args} do
   *     not serialize to a JSON object, with {@link ResultMappingException} if the result does not map, or as
   *     {@link #execute(String, String)} does
   */
  public <T> CompletionStage<T> execute(String tool, Object args, Class<T> resultType) {
    return execute(tool, args, resultType, CallOptions.defaults());
  }

  /** As {@link #execute(String, Object, Class)}, with a deadline, a session or other options. */
  public <T> CompletionStage<T> execute(String tool, Object args, Class<T> resultType, CallOptions options) {
    return executeTyped(tool, args, mapper.constructType(Objects.requireNonNull(resultType, "resultType")), options);
  }

  /**
   * As {@link #execute(String, Object, Class)}, for a generic result type, e.g.
   * {@code new TypeReference<List<Point>>() {}}.
   */
  public <T> CompletionStage<T> execute(String tool, Object args, TypeReference<T> resultType) {
    return execute(tool, args, resultType, CallOptions.defaults());
  }

  /** As {@link #execute(String, Object, TypeReference)}, with a deadline, a session or other options. */
  public <T> CompletionStage<T> execute(String tool, Object args, TypeReference<T> resultType, CallOptions options) {
    return executeTyped(tool, args, mapper.constructType(Objects.requireNonNull(resultType, "resultType")), options);
  }

  /** As {@link #execute(String, Object, Class)}, in session {@code sessionId} (see {@link #executeInSession}). */
  public <T> CompletionStage<T> executeInSession(String sessionId, Affinity affinity, String tool, Object args,
      Class<T> resultType) {
    return execute(tool, args, resultType, CallOptions.defaults().withSession(sessionId, affinity));
  }

  private <T> CompletionStage<T> executeTyped(String tool, Object args, JavaType resultType, CallOptions options) {
    Objects.requireNonNull(options, "options");
    String argsJson;
    try {
      argsJson = TypedJson.arguments(mapper, Objects.requireNonNull(tool, "tool"), args);
    } catch (InvalidArgumentsException e) {
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Result> call = submit(request(tool, argsJson, null), options).toCompletableFuture();
    // Mapped off the thread that completes the call (the workers' I/O thread): a large result would hold it up.
    CompletableFuture<T> typed = call.thenApplyAsync(r -> TypedJson.result(mapper, tool, r, resultType),
        ForkJoinPool.commonPool());
    // Cancelling the caller's stage must still reach the worker, as it does for execute(tool, argsJson, options).
    typed.whenComplete((value, error) -> {
      if (typed.isCancelled()) {
        call.cancel(false);
      }
    });
    return typed;
  }

  /**
   * Calls {@code tool} in session {@code sessionId}: the session's first call binds it to the worker that serves it,
   * and later calls go to that worker as {@code affinity} says (a Python adapter can keep per-session state). A
   * session unused for the pool's {@code session-ttl} is forgotten.
   */
  public CompletionStage<Result> executeInSession(String sessionId, Affinity affinity, String tool, String argsJson) {
    return execute(tool, argsJson, CallOptions.defaults().withSession(sessionId, affinity));
  }

  /** As {@link #execute(String, String)}, passing {@code payload} to the tool as the keyword argument {@code payload}. */
  public CompletionStage<Result> execute(String tool, String argsJson, byte[] payload) {
    return execute(tool, argsJson, payload, CallOptions.defaults());
  }

  /**
   * As {@link #execute(String, String, byte[])}, with a deadline, a session or other options; cancelling the returned
   * stage cancels the call in the worker.
   */
  public CompletionStage<Result> execute(String tool, String argsJson, byte[] payload, CallOptions options) {
    return submit(request(tool, argsJson, Objects.requireNonNull(payload, "payload")),
        Objects.requireNonNull(options, "options"));
  }

  /** As {@link #executeInSession(String, Affinity, String, String)}, passing {@code payload} to the tool. */
  public CompletionStage<Result> executeInSession(String sessionId, Affinity affinity, String tool, String argsJson,
      byte[] payload) {
    return execute(tool, argsJson, payload, CallOptions.defaults().withSession(sessionId, affinity));
  }

  /**
   * Calls a streaming tool (a Python generator); each item it yields is handed to {@code onItem}, in order, one at a
   * time, on an internal (gRPC) thread, as fast as the worker sends them: there is no backpressure, so a slow
   * {@code onItem} holds up that thread. The stage completes after the last item, or fails like {@link #execute}.
   * {@link #stream(String, String)} gives the items as a backpressured Akka Streams source.
   *
   * <p>On a node of a cluster the call goes where the routing rule sends a call (docs/CLUSTER.md, "Streaming calls").
   * A stream served by another node comes paced all the same: its node sends items only as {@code onItem} returns,
   * up to {@code snakepit.cluster.stream-window} ahead; {@code onItem} then runs on a pool thread, one item at a time.
   */
  public CompletionStage<Void> executeStream(String tool, String argsJson, Consumer<Result> onItem) {
    return executeStream(tool, argsJson, CallOptions.defaults(), onItem);
  }

  /** As {@link #executeStream(String, String, Consumer)}, with a deadline or other options. */
  public CompletionStage<Void> executeStream(String tool, String argsJson, CallOptions options,
      Consumer<Result> onItem) {
    Objects.requireNonNull(onItem, "onItem");
    CompletableFuture<Void> promise = new CompletableFuture<>();
    ExecuteRequest request = request(tool, argsJson, null);
    SnakepitException refused = refusal(request);
    if (refused != null) {
      promise.completeExceptionally(refused);
      return promise;
    }
    Objects.requireNonNull(options, "options");
    CallTracing.Call trace = tracing.start(Context.current(), name, tool, request.getCallId());
    trace.endWith(promise);
    submitStream(traced(request, trace), options, onItem::accept, promise, trace);
    return promise;
  }

  /**
   * Calls a streaming tool (a Python generator) as an Akka Streams source of its items, with backpressure: the
   * source reads only as far as downstream pulls (plus a few items ahead), so when downstream stops pulling, the
   * worker's gRPC send blocks once the transport's buffers are full, and the tool's generator waits in its
   * {@code yield}. {@code executeStream} remains for a plain callback.
   *
   * <p>Each materialization is one call: nothing is sent before the source is materialized, and materializing it
   * twice calls the tool twice. Downstream cancelling (e.g. {@code take(5)}) cancels the call, which the tool sees
   * through {@code current_call().cancelled()} and its generator's {@code finally} blocks, and the worker is free for
   * the next call. The tool's failure fails the stream with the exception {@link #execute(String, String)} would
   * give, after the items yielded before it. The deadline ({@code CallOptions.timeout}, else the pool's
   * {@code call-timeout}) covers the whole stream, including the time downstream does not pull. An idempotent stream
   * whose worker crashes starts over on another worker, so its first items come again.
   *
   * <p>On a node of a cluster the call goes where the routing rule sends a call (this node's idle worker first, else
   * the least loaded node; a session's stream to its node). A stream served by another node behaves the same: that
   * node sends items only as the source asks for them (at most {@code snakepit.cluster.stream-window} ahead of
   * downstream), downstream cancelling and the deadline cancel the call there, and its failure arrives typed after
   * the items before it. The loss of that node fails the stream with {@link NodeLostException}; an idempotent stream
   * starts over on another node, so its first items come again. An item over
   * {@code akka.remote.artery.advanced.maximum-frame-size} fails the stream with {@link MessageTooLargeException}.
   *
   * <p>Threading: the source may be materialized from any thread; items are emitted on the materializer's threads,
   * as any Akka Streams stage's are, never on gRPC's.
   *
   * <p>Arguments the worker could not take ({@link InvalidArgumentsException}) or over {@code max-message-size}
   * ({@link MessageTooLargeException}) give a source that fails when materialized, having sent nothing.
   */
  public Source<Result, NotUsed> stream(String tool, String argsJson) {
    return stream(tool, argsJson, CallOptions.defaults());
  }

  /** As {@link #stream(String, String)}, with a deadline, a session or other options. */
  public Source<Result, NotUsed> stream(String tool, String argsJson, CallOptions options) {
    Objects.requireNonNull(options, "options");
    SnakepitException refused = refusal(request(tool, argsJson, null));
    if (refused != null) {
      return Source.failed(refused);
    }
    // The caller's context is taken here: the source is materialized on the stream's threads, outside it.
    Context caller = Context.current();
    // The request is built per materialization, so that each call has its own id.
    return Source.fromGraph(new CallSource(tool, cluster == null ? STREAM_WINDOW : cluster.streamWindow(),
        (items, promise) -> {
          ExecuteRequest request = request(tool, argsJson, null);
          CallTracing.Call trace = tracing.start(caller, name, tool, request.getCallId());
          trace.endWith(promise);
          submitStream(traced(request, trace), options, items, promise, trace);
        }));
  }

  /**
   * A streaming call: to this node's workers, or on a node of a cluster where the routing rule says (another node's
   * workers send the items as this node's consumer takes them).
   */
  private void submitStream(ExecuteRequest request, CallOptions options, StreamItems items,
      CompletableFuture<Void> promise, CallTracing.Call trace) {
    if (cluster == null) {
      actor.tell(new PoolActor.Submit(new Job.Stream(request, options, System.nanoTime(), 0, items, promise, trace)));
      return;
    }
    long submitted = System.nanoTime();
    cluster.submitStream(name, request, options, items, promise, actor == null ? null
        : p -> actor.tell(new PoolActor.Submit(new Job.Stream(request, options, submitted, 0, items, p, trace))));
  }

  /** A streaming call from another node of the cluster, to this node's own workers: no routing, no span of its own. */
  void directStream(ExecuteRequest request, CallOptions options, StreamItems items, CompletableFuture<Void> promise) {
    actor.tell(new PoolActor.Submit(new Job.Stream(request, options, System.nanoTime(), 0, items, promise,
        CallTracing.NONE)));
  }

  /**
   * As {@link #stream(String, String)}, with {@code args} serialized by Jackson and each item mapped to
   * {@code itemType}; an item that does not map fails the stream with {@link ResultMappingException} and cancels the
   * call. Arguments that do not serialize to a JSON object give a source that fails at once and sends nothing.
   */
  public <T> Source<T, NotUsed> stream(String tool, Object args, Class<T> itemType) {
    return stream(tool, args, itemType, CallOptions.defaults());
  }

  /** As {@link #stream(String, Object, Class)}, with a deadline, a session or other options. */
  public <T> Source<T, NotUsed> stream(String tool, Object args, Class<T> itemType, CallOptions options) {
    return streamTyped(tool, args, mapper.constructType(Objects.requireNonNull(itemType, "itemType")), options);
  }

  /** As {@link #stream(String, Object, Class)}, for a generic item type. */
  public <T> Source<T, NotUsed> stream(String tool, Object args, TypeReference<T> itemType, CallOptions options) {
    return streamTyped(tool, args, mapper.constructType(Objects.requireNonNull(itemType, "itemType")), options);
  }

  private <T> Source<T, NotUsed> streamTyped(String tool, Object args, JavaType itemType, CallOptions options) {
    String argsJson;
    try {
      argsJson = TypedJson.arguments(mapper, Objects.requireNonNull(tool, "tool"), args);
    } catch (InvalidArgumentsException e) {
      return Source.failed(e);
    }
    return stream(tool, argsJson, options).map(r -> TypedJson.<T>result(mapper, tool, r, itemType));
  }

  /**
   * Resizes the pool to {@code workers} serving workers, at run time: new workers start as any do (journaled before
   * they are spawned, {@code start-concurrency} at a time); surplus workers take no new calls, finish the calls they
   * have and stop (idle ones first), and their sessions bind anew on their next call. Calls go on meanwhile. The
   * size holds until the next resize or the node's restart (then {@code workers} from the configuration applies).
   *
   * @return completes with the number of ready workers once every new worker is ready and every surplus one has
   *     ended (a later resize completes it when that one is done); fails with {@link PoolUnavailableException} if the
   *     pool stops or has failed, or with {@link IllegalArgumentException} if {@code workers} is below 1
   */
  public CompletionStage<Integer> resize(int workers) {
    CompletableFuture<Integer> promise = new CompletableFuture<>();
    if (workers < 1) {
      promise.completeExceptionally(new IllegalArgumentException("pool '" + name + "' cannot be resized to "
          + workers + " workers: a pool needs at least 1 worker"));
      return promise;
    }
    actor.tell(new PoolActor.Resize(workers, promise));
    return promise;
  }

  /** Completes once every worker of the pool is up; fails with the reason if the pool cannot start. */
  public CompletionStage<Void> ready() {
    CompletableFuture<Void> promise = new CompletableFuture<>();
    if (actor == null) {
      promise.complete(null); // served by other nodes, which start their own workers
      return promise;
    }
    actor.tell(new PoolActor.AwaitReady(promise));
    return promise;
  }

  private CompletionStage<Result> submit(ExecuteRequest request, CallOptions options) {
    CompletableFuture<Result> promise = new CompletableFuture<>();
    SnakepitException refused = refusal(request);
    if (refused != null) {
      promise.completeExceptionally(refused);
      return promise;
    }
    CallTracing.Call trace = tracing.start(Context.current(), name, request.getTool(), request.getCallId());
    trace.endWith(promise);
    ExecuteRequest sent = traced(request, trace);
    if (cluster == null) {
      submitLocal(new Job.Unary(sent, options, System.nanoTime(), 0, promise, trace));
    } else {
      long submitted = System.nanoTime();
      cluster.submit(name, sent, options, promise, actor == null ? null
          : p -> submitLocal(new Job.Unary(sent, options, submitted, 0, p, trace)));
    }
    return promise;
  }

  /** A call from another node of the cluster, to this node's own workers: no routing, no span of its own. */
  CompletableFuture<Result> direct(ExecuteRequest request, CallOptions options) {
    CompletableFuture<Result> promise = new CompletableFuture<>();
    submitLocal(new Job.Unary(request, options, System.nanoTime(), 0, promise, CallTracing.NONE));
    return promise;
  }

  /**
   * To this node's workers: a call outside any session starts on a worker whose room the pool lent to its lane, from
   * this thread, if one is free; otherwise (or for a session) it goes to the pool's actor.
   */
  private void submitLocal(Job.Unary job) {
    if (job.options().session() != null || !actor.lane().tryStart(job)) {
      actor.tell(new PoolActor.Submit(job));
    }
  }

  /** Why a request must not be sent, or null: text the worker could not decode, or a message over the limit. */
  private SnakepitException refusal(ExecuteRequest request) {
    SnakepitException bad = unencodable(request.getTool(), "tool", request.getTool());
    if (bad == null) {
      bad = unencodable(request.getTool(), "args_json", request.getArgsJson());
    }
    int size = request.getSerializedSize();
    if (bad == null && size > maxMessageSize) {
      bad = MessageTooLargeException.arguments(name, request.getTool(), size, maxMessageSize);
    }
    return bad;
  }

  /** Protobuf would send an unpaired surrogate as '?': the tool would see other text than the caller wrote. */
  private static InvalidArgumentsException unencodable(String tool, String field, String text) {
    int at = unpairedSurrogate(text);
    if (at < 0) {
      return null;
    }
    String code = String.format("%04x", (int) text.charAt(at));
    return new InvalidArgumentsException("tool '" + tool + "': " + field + " holds an unpaired UTF-16 surrogate (U+"
        + code.toUpperCase(Locale.ROOT) + ") at index " + at + ", which UTF-8 cannot encode; escape it"
        + " in the JSON (\\u" + code + ") or remove it");
  }

  private static int unpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }

  /** {@code request} carrying its call's traceparent, when the call is traced. */
  private static ExecuteRequest traced(ExecuteRequest request, CallTracing.Call trace) {
    return trace.traceparent().isEmpty() ? request : request.toBuilder().setTraceparent(trace.traceparent()).build();
  }

  private static ExecuteRequest request(String tool, String argsJson, byte[] payload) {
    Objects.requireNonNull(tool, "tool");
    ExecuteRequest.Builder b = ExecuteRequest.newBuilder()
        .setTool(tool)
        .setArgsJson(argsJson == null ? "" : argsJson)
        .setCallId("c" + CALLS.incrementAndGet());
    if (payload != null) {
      b.setPayload(ByteString.copyFrom(payload)).setHasPayload(true);
    }
    return b.build();
  }
}
