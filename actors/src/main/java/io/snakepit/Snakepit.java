package io.snakepit;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.snakepit.actors.CallTracing;
import io.snakepit.actors.Node;
import io.snakepit.actors.host.HostServer;
import io.snakepit.actors.metrics.NodeMetrics;
import io.snakepit.cluster.ClusterPools;
import io.snakepit.cluster.ClusterSettings;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Snakepit as an Akka extension: the entry point of the Java API.
 *
 * <pre>{@code
 * Snakepit snakepit = Snakepit.get(system);
 * CompletionStage<Result> r = snakepit.pool("default").execute("echo", "{\"x\": 1}");
 * }</pre>
 *
 * <p>The first {@code get} starts every pool configured under {@code snakepit.pools} (none unless configured: a node
 * without pools starts, and {@link #pool} names the fix). The pools stop, and every worker
 * process with them, when the actor system terminates (in the {@code service-stop} phase of coordinated shutdown). If
 * the JVM dies without that, each worker's shim sees its stdin close and takes the worker's process tree down.
 */
public final class Snakepit implements Extension {

  /** The extension's id; {@link #get(ActorSystem)} is the usual way in. */
  public static final class Id extends ExtensionId<Snakepit> {
    private static final Id INSTANCE = new Id();

    private Id() {}

    @Override
    public Snakepit createExtension(ActorSystem<?> system) {
      return new Snakepit(system, Node.get(system), CallTracing.of(system));
    }
  }

  /** The name of the pool that {@link #execute} and {@link #executeStream} use (configure it like any other). */
  public static final String DEFAULT_POOL = "default";
  private static final ObjectMapper HOST_MAPPER = TypedJson.newDefaultMapper();

  private final Node node;
  private final Map<String, Pool> pools = new LinkedHashMap<>();
  private final CompletionStage<Settlement> settlement;
  private final CallTracing tracing;
  /** The cluster's pools; null on a node that runs alone, whose calls never leave it. */
  private final ClusterPools cluster;
  /** Handles of pools that only other nodes run, made on first use. */
  private final Map<String, Pool> remotePools = new ConcurrentHashMap<>();

  /** The Snakepit of {@code system}, started on first use. */
  public static Snakepit get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /**
   * Records the node's metrics (workers by state, calls by outcome, call durations, queue, starts, exits, memory,
   * circuit, settlement; see docs/OPERATIONS.md) in {@code registry}, a Micrometer registry of the application's.
   * Call it before the first {@link #get}, so that every worker is counted from its start. Without it the node
   * records no metrics; {@code snakepit serve} binds a Prometheus registry of its own.
   *
   * @throws IllegalStateException if the node of {@code system} has started already
   */
  public static void bindMetrics(ActorSystem<?> system, MeterRegistry registry) {
    NodeMetrics.bind(system, registry);
  }

  private Snakepit(ActorSystem<?> system, Node node, CallTracing tracing) {
    this.node = node;
    this.tracing = tracing;
    // Only a clustered node touches the cluster's classes: a node alone calls its pools directly.
    this.cluster = clustered(system) ? ClusterPools.start(system, node.pools().stream()
        .map(p -> new ClusterPools.Local(p.settings().name(),
            () -> p.link().size(p.settings()) * p.settings().worker().concurrency(),
            p.settings().worker().maxMessageSize(), p.settings().sessionTtl(), (request, options) -> pools.get(p.settings().name())
                .direct(request, options), (request, options, items, promise) -> pools.get(p.settings().name())
                .directStream(request, options, items, promise), p.link()::sessionIdleMillis))
        .toList()) : null;
    for (Node.PoolEntry p : node.pools()) {
      pools.put(p.settings().name(), cluster == null
          ? new Pool(p.settings().name(), p.link(), p.settings().worker().maxMessageSize(), tracing)
          : new Pool(p.settings().name(), p.link(), p.settings().worker().maxMessageSize(), tracing, cluster));
    }
    this.settlement = node.settlement().thenApply(report -> report == null ? null : Settlement.of(report));
  }

  /** Whether {@code system} runs with the cluster provider, read without loading a class of the cluster's. */
  private static boolean clustered(ActorSystem<?> system) {
    return ClusterSettings.clustered(system.settings().config());
  }

  /**
   * Makes every later call's span with {@code openTelemetry} (the application's own SDK, say), in place of
   * {@code GlobalOpenTelemetry} or the exporter {@code snakepit.tracing} configures. Each call is a CLIENT span
   * {@code snakepit.call <tool>}, a child of the caller's current context, and its traceparent reaches the tool as
   * {@code current_call().traceparent}.
   *
   * @return this
   */
  public Snakepit useOpenTelemetry(OpenTelemetry openTelemetry) {
    tracing.use(openTelemetry);
    return this;
  }

  /**
   * The pool named {@code name}. On a node of a cluster, its calls go to this node's workers while one is idle,
   * else to the least loaded node with a pool of that name (docs/CLUSTER.md); a pool that only other nodes run is
   * found too.
   *
   * @throws IllegalArgumentException if no such pool is configured (on this node, nor on any other node of its
   *     cluster); the message lists the pools that are
   */
  public Pool pool(String name) {
    Pool pool = pools.get(name);
    if (pool == null && cluster != null && cluster.knows(name)) {
      pool = remotePools.computeIfAbsent(name, n -> new Pool(n, null, cluster.maxMessageSize(n), tracing, cluster));
    }
    if (pool == null) {
      throw new IllegalArgumentException("no pool named '" + name + "' is configured; "
          + (pools.isEmpty() ? "no pool is" : "the pools are " + String.join(", ", pools.keySet()))
          + (cluster == null ? "" : " (other nodes of the cluster: " + (cluster.remoteNames().isEmpty() ? "none"
              : String.join(", ", cluster.remoteNames())) + ")")
          + ". Configure it under snakepit.pools, e.g. in application.conf: snakepit.pools." + name
          + " { workers = 2, adapter = \"my_tools:MyAdapter\", python-path = [\"/srv/my-app/adapters\"] }");
    }
    return pool;
  }

  /**
   * Lets Python tools call {@code handler} as {@code snakepit_worker.host.call(name, **kwargs)}, with the keyword
   * arguments as a JSON object ({@link HostCall#argsJson()}) and the handler's JSON text as the result. The call
   * carries the Python tool's remaining deadline, and is cancelled with the tool's call; pass both on to the pool
   * calls it makes with {@link HostCall#execute(Pool, String, String)} (docs/EMBEDDING.md, "Host tools"). Handlers
   * run on the node's host-tool threads, at most {@code snakepit.host-tools.max-calls} calls at once.
   *
   * @return this
   * @throws IllegalArgumentException if a host tool of that name is registered already
   */
  public Snakepit registerHostTool(String name, HostTool handler) {
    Objects.requireNonNull(handler, "handler");
    node.hostTools().register(name, request -> handler.call(new HostCall(request)));
    return this;
  }

  /**
   * As {@link #registerHostTool(String, HostTool)}, with the arguments mapped to {@code argsType} and the result
   * written as JSON by {@link Pool#defaultObjectMapper()}'s configuration. Arguments that do not map reach Python as
   * {@code snakepit_worker.host.InvalidHostArguments}, naming the type.
   */
  public <A, R> Snakepit registerHostTool(String name, Class<A> argsType, TypedHostTool<A, R> handler) {
    return registerHostTool(name, argsType, HOST_MAPPER, handler);
  }

  /** As {@link #registerHostTool(String, Class, TypedHostTool)}, mapping with {@code mapper}. */
  public <A, R> Snakepit registerHostTool(String name, Class<A> argsType, ObjectMapper mapper,
      TypedHostTool<A, R> handler) {
    Objects.requireNonNull(argsType, "argsType");
    Objects.requireNonNull(mapper, "mapper");
    Objects.requireNonNull(handler, "handler");
    return registerHostTool(name, call -> {
      A args;
      try {
        args = mapper.readValue(call.argsJson().isEmpty() ? "{}" : call.argsJson(), argsType);
      } catch (JsonProcessingException e) {
        throw new HostServer.InvalidArguments("host tool '" + name + "': its arguments do not map to "
            + argsType.getName() + ": " + e.getOriginalMessage() + "; call it with keyword arguments that fit "
            + argsType.getSimpleName() + " (or change the type it registers with)", e);
      }
      CompletionStage<R> result = handler.call(args, call);
      if (result == null) {
        throw new NullPointerException("host tool '" + name + "' returned no stage; return a CompletionStage of"
            + " its result");
      }
      return call.nested(result).thenApply(value -> {
        try {
          return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
          throw new CompletionException(e);
        }
      });
    });
  }

  /** Stops serving host tool {@code name} (its calls in flight go on); whether it was registered. */
  public boolean unregisterHostTool(String name) {
    return node.hostTools().unregister(name);
  }

  /** The host tools registered, sorted by name. */
  public List<String> hostTools() {
    return node.hostTools().names();
  }

  /** The pools configured on this node, by name (not the pools only other nodes of its cluster run). */
  public Map<String, Pool> pools() {
    return Map.copyOf(pools);
  }

  /**
   * The settlement of what earlier JVMs of this instance left, done before any worker started; completes with null
   * when the registry is turned off (snakepit.registry.enabled = off).
   */
  public CompletionStage<Settlement> settlement() {
    return settlement;
  }

  /**
   * {@link Pool#execute(String, String)} on the pool named "default".
   *
   * @throws IllegalArgumentException if no pool "default" is configured, with the config to add
   */
  public CompletionStage<Result> execute(String tool, String argsJson) {
    return pool(DEFAULT_POOL).execute(tool, argsJson);
  }

  /**
   * {@link Pool#executeStream} on the pool named "default".
   *
   * @throws IllegalArgumentException if no pool "default" is configured, with the config to add
   */
  public CompletionStage<Void> executeStream(String tool, String argsJson, Consumer<Result> onItem) {
    return pool(DEFAULT_POOL).executeStream(tool, argsJson, onItem);
  }

  /**
   * Why no worker can be started now: the registry's journal has been failing writes (with since when and what to
   * check); empty while it takes them, or when the registry is turned off.
   */
  public Optional<String> journalOutage() {
    return node.journalOutage();
  }

  /**
   * What the node's pools and workers are doing now: per pool its size, queue and circuit, per live worker its pids,
   * state, calls, resident memory, CPU use, health score (with its factors), uptime and how its slot's previous worker
   * ended. {@link NodeStatus#toJson()} is what the HTTP endpoint's {@code /status} serves.
   */
  public NodeStatus status() {
    return node.status();
  }

  /** Completes once every worker of every pool is up. */
  public CompletionStage<Void> ready() {
    return CompletableFuture.allOf(pools.values().stream().map(p -> p.ready().toCompletableFuture())
        .toArray(CompletableFuture[]::new));
  }

  /**
   * A planned restart (docs/ADOPTION.md), what {@code snakepit detach} does to {@code serve}: the node takes no new
   * calls, lets those in flight finish within the stop grace, and leaves every ready worker running for
   * {@code window}, journaled, for the next node of the same instance and data directory to adopt. Completes with
   * how many workers were left running; then terminate the actor system and exit. Workers that could not be detached
   * stop with the node, as ever; a JVM killed before this completes takes every tree down.
   */
  public CompletionStage<Integer> detach(Duration window) {
    return node.detach(window).thenApply(outcomes -> (int) outcomes.stream().filter(o -> o.kept()).count());
  }
}
