package io.snakepit;

import com.google.protobuf.ByteString;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLink;
import io.snakepit.actors.worker.Job;
import io.snakepit.proto.ExecuteRequest;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A named pool of Python workers that all run the same adapter. Obtain one from {@link Snakepit#pool(String)}.
 *
 * <p>Calls never block: each returns a stage that completes with the tool's result or fails with a
 * {@link SnakepitException} subclass that names what went wrong. Calls made before the pool is ready wait in its
 * queue.
 */
public final class Pool {
  private static final AtomicLong CALLS = new AtomicLong();

  private final String name;
  private final PoolLink actor;
  private final int maxMessageSize;

  Pool(String name, PoolLink link, int maxMessageSize) {
    this.name = name;
    this.actor = link;
    this.maxMessageSize = maxMessageSize;
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
   * time, on an internal thread. The stage completes after the last item, or fails like {@link #execute}.
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
    actor.tell(new PoolActor.Submit(new Job.Stream(request, Objects.requireNonNull(options, "options"),
        System.nanoTime(), 0, onItem, promise)));
    return promise;
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
    actor.tell(new PoolActor.Submit(new Job.Unary(request, options, System.nanoTime(), 0, promise)));
    return promise;
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
