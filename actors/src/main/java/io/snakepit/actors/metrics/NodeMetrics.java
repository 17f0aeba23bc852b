package io.snakepit.actors.metrics;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.snakepit.cluster.ClusterMeters;
import io.snakepit.cluster.ClusterSettings;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.snakepit.SnakepitEvent;
import io.snakepit.WorkerCrashedException;
import io.snakepit.actors.Events;
import io.snakepit.actors.Node;
import io.snakepit.persistence.Settlement;
import io.snakepit.shim.ProcStat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's metrics in a Micrometer {@link MeterRegistry}, fed by its {@link SnakepitEvent}s through the node's
 * {@link Events.Taps} (on the publishing thread: a call's end is two map reads, a counter and a timer, with no message
 * to an actor), plus what events do not carry, read at scrape time: each pool's queue length and its workers'
 * resident memory from /proc.
 *
 * <p>Names are Micrometer's (dotted); a Prometheus registry writes them as the {@code snakepit_*} names listed in
 * {@link #PROMETHEUS_NAMES} and docs/OPERATIONS.md.
 */
public final class NodeMetrics {
  /** Every metric as a Prometheus registry names it, with its labels: the contract of docs/OPERATIONS.md. */
  public static final Map<String, List<String>> PROMETHEUS_NAMES = Map.ofEntries(
      Map.entry("snakepit_workers", List.of("pool", "state")),
      Map.entry("snakepit_calls_total", List.of("pool", "tool", "outcome")),
      Map.entry("snakepit_call_duration_seconds", List.of("pool", "tool")),
      Map.entry("snakepit_queue_depth", List.of("pool")),
      Map.entry("snakepit_queue_capacity", List.of("pool")),
      Map.entry("snakepit_queue_wait_seconds", List.of("pool")),
      Map.entry("snakepit_pool_saturated_total", List.of("pool")),
      Map.entry("snakepit_worker_start_duration_seconds", List.of("pool")),
      Map.entry("snakepit_worker_exits_total", List.of("pool", "reason")),
      Map.entry("snakepit_worker_rss_bytes", List.of("pool")),
      Map.entry("snakepit_worker_rss_max_bytes", List.of("pool")),
      Map.entry("snakepit_worker_memory_limit_bytes", List.of("pool")),
      Map.entry("snakepit_worker_health", List.of("pool")),
      Map.entry("snakepit_worker_output_dropped_total", List.of("pool")),
      Map.entry("snakepit_worker_snapshot_failures_total", List.of("pool")),
      Map.entry("snakepit_workers_detached_total", List.of("pool")),
      Map.entry("snakepit_workers_adopted_total", List.of("pool")),
      Map.entry("snakepit_settled_total", List.of("outcome")),
      Map.entry("snakepit_journal_damaged_total", List.of()),
      Map.entry("snakepit_circuit_open", List.of("pool")));

  /** The metrics a clustered node adds ({@link ClusterMeters}), named as {@link #PROMETHEUS_NAMES} names them. */
  public static final Map<String, List<String>> CLUSTER_PROMETHEUS_NAMES = Map.of(
      "snakepit_cluster_pool_calls", List.of("node", "pool"),
      "snakepit_cluster_pool_capacity", List.of("node", "pool"),
      "snakepit_cluster_members", List.of("status"));

  /** A worker's state as {@code snakepit_workers} counts it. */
  public enum State {
    /** Reserved or spawned, not yet ready. */
    STARTING,
    /** Ready, running no call. */
    IDLE,
    /** Ready, running at least one call. */
    BUSY,
    /** Due for replacement: it finishes the calls it has. */
    RETIRING;

    String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The tool label of calls to tools beyond a pool's {@code max-tools}. */
  static final String OTHER_TOOLS = "_other";

  private static final Logger LOG = LoggerFactory.getLogger(NodeMetrics.class);
  private static final Duration FASTEST_CALL = Duration.ofMillis(1).dividedBy(10);
  private static final Duration SLOWEST_CALL = Duration.ofMinutes(10);
  private static final SnakepitEvent.Outcome[] OUTCOMES = SnakepitEvent.Outcome.values();

  private final MeterRegistry registry;
  private final boolean perWorker;
  private final int maxTools;
  private final Supplier<Node> node;
  private final Map<String, PoolMeters> pools = new ConcurrentHashMap<>();
  private final Map<String, WorkerMeters> workers = new ConcurrentHashMap<>();
  private final Map<String, Counter> settled = new ConcurrentHashMap<>();
  private final Counter journalDamaged;

  /**
   * @param node the node once it has started, else null: its pools' queues are read at scrape time
   * @param settings the {@code snakepit.metrics} block
   * @param pools the configured pools, whose meters exist from the start
   */
  NodeMetrics(MeterRegistry registry, Config settings, List<String> pools, Supplier<Node> node) {
    this.registry = registry;
    this.perWorker = settings.getBoolean("per-worker");
    this.maxTools = settings.getInt("max-tools");
    if (maxTools < 1) {
      throw new IllegalArgumentException("snakepit.metrics.max-tools = " + maxTools + ": it must be at least 1 (the"
          + " number of tool labels a pool's call metrics keep; calls to further tools count under " + OTHER_TOOLS
          + ")");
    }
    this.node = node;
    this.journalDamaged = Counter.builder("snakepit.journal.damaged")
        .description("Journal files found damaged, rolled back or recreated at a start").register(registry);
    pools.forEach(this::pool);
    // Every way a settlement ends exists from the start, at 0: an alert on its rate needs the series before the first.
    for (Settlement how : Settlement.values()) {
      settled(how.name().toLowerCase(Locale.ROOT));
    }
  }

  /**
   * Binds the metrics of {@code system}'s node to {@code registry}. Call it before the node starts (the first
   * {@code Snakepit.get(system)}), so that every worker is counted from its start.
   *
   * @throws IllegalStateException if the node has started already
   */
  public static NodeMetrics bind(ActorSystem<?> system, MeterRegistry registry) {
    if (Node.started(system)) {
      throw new IllegalStateException("the Snakepit node of actor system '" + system.name() + "' has started"
          + " already, so its metrics would miss the workers it started: bind the MeterRegistry before the first"
          + " Snakepit.get(system)");
    }
    Config snakepit = system.settings().config().getConfig("snakepit");
    List<String> pools = snakepit.getObject("pools").entrySet().stream()
        .filter(e -> e.getValue().valueType() != ConfigValueType.NULL).map(Map.Entry::getKey).sorted().toList();
    NodeMetrics metrics = new NodeMetrics(registry, snakepit.getConfig("metrics"), pools,
        () -> Node.started(system) ? Node.get(system) : null);
    Events.Taps.of(system).add(metrics::record);
    if (ClusterSettings.clustered(system.settings().config())) {
      ClusterMeters.of(system).bind(registry); // every node of the cluster, in this node's metrics
    }
    return metrics;
  }

  /** Records one event; never throws (it runs on the thread of whoever published it). */
  void record(SnakepitEvent event) {
    try {
      if (event instanceof SnakepitEvent.CallEnded e) {
        callEnded(e);
      } else if (event instanceof SnakepitEvent.CallStarted e) {
        WorkerMeters w = workers.get(e.worker());
        if (w != null) {
          w.inFlight.incrementAndGet();
        }
        pool(e.pool()).queueWait.record(e.queued());
      } else {
        lifecycle(event);
      }
    } catch (RuntimeException e) {
      LOG.warn("metrics: recording {} failed; the metrics may be off from now on: {}", event, e.toString());
    }
  }

  private void callEnded(SnakepitEvent.CallEnded e) {
    WorkerMeters w = workers.get(e.worker());
    if (w != null) {
      w.inFlight.decrementAndGet();
    }
    ToolMeters tool = pool(e.pool()).tool(e.tool());
    tool.calls[e.outcome().ordinal()].increment();
    tool.duration.record(e.took());
  }

  private void lifecycle(SnakepitEvent event) {
    if (event instanceof SnakepitEvent.WorkerReserved e) {
      workers.putIfAbsent(e.worker(), new WorkerMeters(pool(e.pool())));
    } else if (event instanceof SnakepitEvent.WorkerReady e) {
      WorkerMeters w = workers.computeIfAbsent(e.worker(), id -> new WorkerMeters(pool(e.pool())));
      w.pid = e.pid();
      w.ready = true;
      w.pool.startDuration.record(e.startTook());
      if (perWorker) {
        w.rss = Gauge.builder("snakepit.worker.rss", w, WorkerMeters::residentBytes).baseUnit("bytes")
            .tags("pool", e.pool(), "worker", e.worker())
            .description("Resident memory of a worker's Python process").register(registry);
        String id = e.worker();
        w.health = Gauge.builder("snakepit.worker.health", () -> health(id)).tags("pool", e.pool(), "worker", id)
            .description("A worker's health score, 0 to 1, at the node's last evaluation").register(registry);
      }
    } else if (event instanceof SnakepitEvent.WorkerRecycled e) {
      WorkerMeters w = workers.get(e.worker());
      if (w != null) {
        w.retiring = true;
      }
    } else if (event instanceof SnakepitEvent.WorkerExited e) {
      WorkerMeters w = workers.remove(e.worker());
      if (w != null && w.rss != null) {
        registry.remove(w.rss);
      }
      if (w != null && w.health != null) {
        registry.remove(w.health);
      }
      pool(e.pool()).exits(e.reason()).increment();
    } else if (event instanceof SnakepitEvent.CircuitOpened e) {
      pool(e.pool()).circuitOpen.set(1);
    } else if (event instanceof SnakepitEvent.CircuitClosed e) {
      pool(e.pool()).circuitOpen.set(0);
    } else if (event instanceof SnakepitEvent.OrphanSettled e) {
      settled(e.settlement()).increment();
    } else if (event instanceof SnakepitEvent.ImpostorSkipped) {
      settled("impostor").increment();
    } else if (event instanceof SnakepitEvent.OutputDropped e) {
      pool(e.pool()).outputDropped.increment(e.lines());
    } else if (event instanceof SnakepitEvent.SnapshotFailed e) {
      pool(e.pool()).snapshotFailures.increment();
    } else if (event instanceof SnakepitEvent.WorkerDetached e) {
      pool(e.pool()).detached.increment();
    } else if (event instanceof SnakepitEvent.WorkerAdopted e) {
      pool(e.pool()).adopted.increment();
    } else if (event instanceof SnakepitEvent.PoolSaturated e) {
      pool(e.pool()).saturated.increment();
    } else if (event instanceof SnakepitEvent.JournalDamaged) {
      journalDamaged.increment();
    }
  }

  private Counter settled(String outcome) {
    return settled.computeIfAbsent(outcome, o -> Counter.builder("snakepit.settled").tag("outcome", o)
        .description("Journal entries of earlier JVMs settled at start, by how").register(registry));
  }

  private PoolMeters pool(String name) {
    PoolMeters p = pools.get(name);
    return p != null ? p : pools.computeIfAbsent(name, PoolMeters::new);
  }

  /** The number of workers of {@code pool} in {@code state} now (as {@code snakepit_workers} reads it). */
  public int workers(String pool, State state) {
    int n = 0;
    for (WorkerMeters w : workers.values()) {
      if (w.pool.name.equals(pool) && w.state() == state) {
        n++;
      }
    }
    return n;
  }

  private long residentBytes(String pool) {
    long sum = 0;
    for (WorkerMeters w : workers.values()) {
      if (w.pool.name.equals(pool)) {
        sum += w.residentBytes();
      }
    }
    return sum;
  }

  private long largestResidentBytes(String pool) {
    long max = 0;
    for (WorkerMeters w : workers.values()) {
      if (w.pool.name.equals(pool)) {
        max = Math.max(max, w.residentBytes());
      }
    }
    return max;
  }

  /** Worker {@code id}'s health at the node's last evaluation; NaN before one, or before the node started. */
  private double health(String id) {
    Node n = node.get();
    return n == null ? Double.NaN : n.watch().health(id);
  }

  /** The lowest health of {@code pool}'s workers at the node's last evaluation; NaN before one. */
  private double lowestHealth(String pool) {
    Node n = node.get();
    return n == null ? Double.NaN : n.watch().lowestHealth(pool);
  }

  private int queued(PoolMeters p) {
    Node.PoolEntry entry = entry(p);
    return entry == null ? 0 : entry.link().queued();
  }

  private int queueCapacity(PoolMeters p) {
    Node.PoolEntry entry = entry(p);
    return entry == null ? 0 : entry.settings().queueCapacity();
  }

  /**
   * The memory one worker of the pool may use before something acts: the smaller of {@code recycle.max-rss} (it is
   * recycled) and {@code isolation.limits.memory} (it is killed), 0 when neither is set.
   */
  private long memoryLimit(PoolMeters p) {
    Node.PoolEntry entry = entry(p);
    if (entry == null) {
      return 0;
    }
    long recycle = entry.settings().worker().recycle().maxRssBytes();
    long kernel = entry.settings().worker().isolation().limits().memoryBytes();
    if (recycle > 0 && kernel > 0) {
      return Math.min(recycle, kernel);
    }
    return Math.max(recycle, kernel);
  }

  /** The pool's entry in the started node, found once; null before the node has started. */
  private Node.PoolEntry entry(PoolMeters p) {
    Node.PoolEntry entry = p.entry;
    if (entry == null) {
      Node n = node.get();
      if (n == null) {
        return null;
      }
      entry = n.pools().stream().filter(e -> e.settings().name().equals(p.name)).findFirst().orElse(null);
      p.entry = entry;
    }
    return entry;
  }

  /** One pool's meters; those by tool and by reason are made on first use. */
  private final class PoolMeters {
    final String name;
    final Timer queueWait;
    final Timer startDuration;
    final AtomicInteger circuitOpen = new AtomicInteger();
    final Counter saturated;
    final Counter outputDropped;
    final Counter snapshotFailures;
    final Counter detached;
    final Counter adopted;
    final Map<String, ToolMeters> tools = new ConcurrentHashMap<>();
    final Map<String, Counter> exits = new ConcurrentHashMap<>();
    volatile Node.PoolEntry entry;

    PoolMeters(String name) {
      this.name = name;
      this.queueWait = Timer.builder("snakepit.queue.wait").tag("pool", name)
          .description("How long calls waited in the pool's queue for a worker").publishPercentileHistogram()
          .minimumExpectedValue(FASTEST_CALL).maximumExpectedValue(SLOWEST_CALL).register(registry);
      this.startDuration = Timer.builder("snakepit.worker.start.duration").tag("pool", name)
          .description("From a worker's start to its readiness").publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(10)).maximumExpectedValue(Duration.ofMinutes(5))
          .register(registry);
      for (State state : State.values()) {
        Gauge.builder("snakepit.workers", () -> workers(name, state)).tags("pool", name, "state", state.label())
            .description("Workers by state").register(registry);
      }
      Gauge.builder("snakepit.queue.depth", this, NodeMetrics.this::queued).tag("pool", name)
          .description("Calls waiting in the pool's queue").register(registry);
      Gauge.builder("snakepit.queue.capacity", this, NodeMetrics.this::queueCapacity).tag("pool", name)
          .description("The pool's queue bound (queue-capacity): past it calls fail at once").register(registry);
      this.outputDropped = Counter.builder("snakepit.worker.output.dropped").tag("pool", name)
          .description("Lines of the workers' output (and forwarded log records) dropped by the pool's output-rate")
          .register(registry);
      this.snapshotFailures = Counter.builder("snakepit.worker.snapshot.failures").tag("pool", name)
          .description("Snapshots of the workers' state not kept (snapshot() failed, over max-bytes, or too slow)")
          .register(registry);
      this.detached = Counter.builder("snakepit.workers.detached").tag("pool", name)
          .description("Workers a planned restart left running for the next node (snakepit detach)")
          .register(registry);
      this.adopted = Counter.builder("snakepit.workers.adopted").tag("pool", name)
          .description("Workers an earlier JVM left waiting that this node took over").register(registry);
      this.saturated = Counter.builder("snakepit.pool.saturated").tag("pool", name)
          .description("Times the pool refused calls with its queue full (once per burst)").register(registry);
      Gauge.builder("snakepit.worker.memory.limit", this, NodeMetrics.this::memoryLimit).baseUnit("bytes")
          .tag("pool", name).description("Memory one worker may use: the smaller of recycle.max-rss and"
              + " isolation.limits.memory, 0 for none").register(registry);
      Gauge.builder("snakepit.worker.rss.max", () -> largestResidentBytes(name)).baseUnit("bytes").tag("pool", name)
          .description("Resident memory of the pool's largest Python process").register(registry);
      Gauge.builder("snakepit.circuit.open", circuitOpen, AtomicInteger::get).tag("pool", name)
          .description("1 while the pool's circuit is open (calls fail at once), else 0").register(registry);
      // Every exit reason exists from the start, at 0: an alert on a rate needs the series before the first exit.
      List<String> reasons = new ArrayList<>(List.of("stopped", "start-failed"));
      for (WorkerCrashedException.Reason r : WorkerCrashedException.Reason.values()) {
        reasons.add(r.name().toLowerCase(Locale.ROOT).replace('_', '-'));
      }
      reasons.forEach(this::exits);
      if (!perWorker) {
        Gauge.builder("snakepit.worker.rss", () -> residentBytes(name)).baseUnit("bytes").tag("pool", name)
            .description("Resident memory of the pool's Python processes").register(registry);
        Gauge.builder("snakepit.worker.health", () -> lowestHealth(name)).tag("pool", name)
            .description("The lowest health score, 0 to 1, of the pool's workers at the node's last evaluation")
            .register(registry);
      }
    }

    Counter exits(String reason) {
      return exits.computeIfAbsent(reason, r -> Counter.builder("snakepit.worker.exits").tags("pool", name, "reason", r)
          .description("Worker process trees gone, by why").register(registry));
    }

    ToolMeters tool(String tool) {
      ToolMeters t = tools.get(tool);
      if (t != null) {
        return t;
      }
      String label = tools.size() < maxTools ? tool : OTHER_TOOLS;
      return tools.computeIfAbsent(label, l -> new ToolMeters(name, l));
    }
  }

  /** One tool's call meters in one pool: a counter per outcome and the duration histogram. */
  private final class ToolMeters {
    final Counter[] calls = new Counter[OUTCOMES.length];
    final Timer duration;

    ToolMeters(String pool, String tool) {
      for (SnakepitEvent.Outcome o : OUTCOMES) {
        calls[o.ordinal()] = Counter.builder("snakepit.calls")
            .tags("pool", pool, "tool", tool, "outcome", o.name().toLowerCase(Locale.ROOT))
            .description("Calls workers ran, by how they ended").register(registry);
      }
      this.duration = Timer.builder("snakepit.call.duration").tags("pool", pool, "tool", tool)
          .description("How long workers took for calls, from taking one to its end").publishPercentileHistogram()
          .minimumExpectedValue(FASTEST_CALL).maximumExpectedValue(SLOWEST_CALL).register(registry);
    }
  }

  /** What the metrics know of one live worker; written by its own actor's events, read at scrape. */
  private static final class WorkerMeters {
    final PoolMeters pool;
    final AtomicInteger inFlight = new AtomicInteger();
    volatile int pid;
    volatile boolean ready;
    volatile boolean retiring;
    volatile Meter rss;
    volatile Meter health;

    WorkerMeters(PoolMeters pool) {
      this.pool = pool;
    }

    State state() {
      if (retiring) {
        return State.RETIRING;
      }
      if (!ready) {
        return State.STARTING;
      }
      return inFlight.get() > 0 ? State.BUSY : State.IDLE;
    }

    long residentBytes() {
      int p = pid;
      return p > 0 ? ProcStat.residentBytes(p) : 0;
    }
  }
}
