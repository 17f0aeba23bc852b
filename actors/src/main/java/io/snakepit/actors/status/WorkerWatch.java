package io.snakepit.actors.status;

import akka.actor.Cancellable;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import com.typesafe.config.Config;
import io.snakepit.NodeStatus;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.Events;
import io.snakepit.actors.pool.PoolActor;
import io.snakepit.actors.pool.PoolLink;
import io.snakepit.actors.pool.PoolSettings;
import io.snakepit.actors.worker.WorkerSettings;
import io.snakepit.shim.ProcStat;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a node knows of each live worker, always on: fed by the node's {@link SnakepitEvent}s through its
 * {@link Events.Taps} (a call costs a map read and a short lock on its worker's record), and evaluated on one timer
 * for the whole node ({@code snakepit.status.interval}): each ready worker's resident memory and CPU time are read
 * from /proc, its {@link HealthScore} computed, and a pool with {@code recycle.min-health} asks its coordinator to
 * recycle a worker that stays below it. {@link #status()} is the snapshot {@code Snakepit.status()} returns.
 */
public final class WorkerWatch {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerWatch.class);
  /** How much each call's time weighs in a worker's average (an exponentially weighted moving average). */
  private static final double LATENCY_WEIGHT = 0.2;
  /** Calls a worker must have finished before its latency is compared with the pool's. */
  private static final int LATENCY_MIN_CALLS = 3;
  /** How long a health recycle may stay unanswered (the worker neither recycled nor gone) before another is asked. */
  private static final Duration RECYCLE_PATIENCE = Duration.ofMinutes(2);

  private final String instance;
  private final Duration restartsWindow;
  private final Map<String, PoolWatch> pools = new LinkedHashMap<>();
  private final Map<String, Watched> workers = new ConcurrentHashMap<>();
  private final LongSupplier clock;
  private volatile Cancellable timer;

  /**
   * @param pools the node's pools, in name order, each with its link (queue length, size, where a recycle goes)
   * @param clock now, in nanoseconds (System.nanoTime in a node)
   */
  WorkerWatch(String instance, Config status, List<Pool> pools, LongSupplier clock) {
    this.instance = instance;
    this.restartsWindow = status.getDuration("restarts-window");
    for (Pool p : pools) {
      this.pools.put(p.settings().name(), new PoolWatch(p.settings(), p.link()));
    }
    this.clock = clock;
  }

  /** A pool as the watch sees it: its settings and its link. */
  public record Pool(PoolSettings settings, PoolLink link) {}

  /**
   * The watch of {@code system}'s node: it hears every event from now on, and evaluates the workers every
   * {@code snakepit.status.interval} on the blocking dispatcher, until the actor system terminates.
   */
  public static WorkerWatch start(ActorSystem<?> system, List<Pool> pools) {
    Config config = system.settings().config().getConfig("snakepit");
    Duration interval = interval(config);
    WorkerWatch watch = new WorkerWatch(config.getString("instance"), config.getConfig("status"), pools,
        System::nanoTime);
    Events.Taps.of(system).add(watch::record);
    watch.timer = system.scheduler().scheduleWithFixedDelay(interval, interval, watch::evaluateQuietly,
        system.dispatchers().lookup(DispatcherSelector.fromConfig("snakepit.blocking-dispatcher")));
    system.getWhenTerminated().whenComplete((done, error) -> watch.timer.cancel());
    return watch;
  }

  /**
   * {@code snakepit.status.interval} of the {@code snakepit} block, checked.
   *
   * @throws IllegalArgumentException naming the setting, its value and the fix, if it is below 10 ms
   */
  public static Duration interval(Config snakepit) {
    Duration interval = snakepit.getDuration("status.interval");
    if (interval.toMillis() < 10) {
      throw new IllegalArgumentException("snakepit.status.interval is " + interval.toMillis() + " ms: set how often"
          + " the node evaluates its workers, 10ms or more, e.g. 5s");
    }
    return interval;
  }

  /** Records one event; never throws (it runs on the thread of whoever published it). */
  void record(SnakepitEvent event) {
    try {
      if (event instanceof SnakepitEvent.CallEnded e) {
        Watched w = workers.get(e.worker());
        if (w != null) {
          w.callEnded(e.callId(), e.outcome(), e.took());
        }
      } else if (event instanceof SnakepitEvent.CallStarted e) {
        Watched w = workers.get(e.worker());
        if (w != null) {
          w.callStarted(e.callId(), e.queued());
        }
      } else {
        lifecycle(event);
      }
    } catch (RuntimeException e) {
      LOG.warn("status: recording {} failed; the status may be off from now on: {}", event, e.toString());
    }
  }

  private void lifecycle(SnakepitEvent event) {
    if (event instanceof SnakepitEvent.WorkerReserved e) {
      PoolWatch pool = pools.get(e.pool());
      if (pool != null) {
        workers.computeIfAbsent(e.worker(), id -> new Watched(id, pool, pool.slotOf(id)));
      }
    } else if (event instanceof SnakepitEvent.WorkerSpawned e) {
      Watched w = workers.get(e.worker());
      if (w != null) {
        w.spawned(e.shimPid());
      }
    } else if (event instanceof SnakepitEvent.WorkerAdopted e) {
      PoolWatch pool = pools.get(e.pool()); // neither reserved nor spawned by this node: watched from here
      if (pool != null) {
        workers.computeIfAbsent(e.worker(), id -> new Watched(id, pool, pool.slotOf(id))).spawned(e.shimPid());
      }
    } else if (event instanceof SnakepitEvent.WorkerReady e) {
      Watched w = workers.get(e.worker());
      if (w != null) {
        // Read once here, on the worker actor's thread: what the worker holds before its first call.
        w.ready(e.pid(), e.shimPid(), clock.getAsLong(), ProcStat.residentBytes(e.pid()));
      }
    } else if (event instanceof SnakepitEvent.WorkerRecycled e) {
      Watched w = workers.get(e.worker());
      if (w != null) {
        w.retiring();
      }
    } else if (event instanceof SnakepitEvent.WorkerExited e) {
      Watched w = workers.remove(e.worker());
      PoolWatch pool = pools.get(e.pool());
      if (pool != null) {
        pool.exited(w != null ? w.slot() : pool.slotOf(e.worker()), e, clock.getAsLong());
      }
    } else if (event instanceof SnakepitEvent.WorkerReplaced e) {
      PoolWatch pool = pools.get(e.pool());
      if (pool != null) {
        pool.replaced(e, workers);
      }
    } else if (event instanceof SnakepitEvent.CircuitOpened e) {
      PoolWatch pool = pools.get(e.pool());
      if (pool != null) {
        pool.circuitOpen = true;
      }
    } else if (event instanceof SnakepitEvent.CircuitClosed e) {
      PoolWatch pool = pools.get(e.pool());
      if (pool != null) {
        pool.circuitOpen = false;
      }
    }
  }

  private void evaluateQuietly() {
    try {
      evaluate();
    } catch (RuntimeException e) {
      LOG.warn("status: evaluating the workers failed; trying again at the next interval: {}", e.toString());
    }
  }

  /**
   * One evaluation: every ready worker's memory and CPU read, its health scored; a pool with
   * {@code recycle.min-health} asks to recycle its worker that has stayed below it longest.
   */
  synchronized void evaluate() {
    long now = clock.getAsLong();
    Map<PoolWatch, List<Watched>> byPool = new HashMap<>();
    for (Watched w : workers.values()) {
      if (w.sample(now)) {
        byPool.computeIfAbsent(w.pool, p -> new ArrayList<>()).add(w);
      }
    }
    for (Map.Entry<PoolWatch, List<Watched>> e : byPool.entrySet()) {
      PoolWatch pool = e.getKey();
      double median = median(e.getValue());
      for (Watched w : e.getValue()) {
        w.score(pool, median, pool.restarts(w.slot(), now, restartsWindow), restartsWindow, now);
      }
      pool.maybeRecycle(e.getValue(), now, workers);
    }
  }

  /** The median of the latencies of the pool's workers that served enough calls; NaN with fewer than two. */
  private static double median(List<Watched> workers) {
    double[] latencies = workers.stream().mapToDouble(Watched::latencyForMedian).filter(l -> !Double.isNaN(l))
        .sorted().toArray();
    if (latencies.length < 2) {
      return Double.NaN;
    }
    int mid = latencies.length / 2;
    return latencies.length % 2 == 1 ? latencies[mid] : (latencies[mid - 1] + latencies[mid]) / 2;
  }

  /** The health of worker {@code id} at the last evaluation; NaN if it has none (yet). */
  public double health(String id) {
    Watched w = workers.get(id);
    HealthScore h = w == null ? null : w.health();
    return h == null ? Double.NaN : h.score();
  }

  /** The lowest health of {@code pool}'s workers at the last evaluation; NaN if none has one. */
  public double lowestHealth(String pool) {
    OptionalDouble lowest = workers.values().stream().filter(w -> w.pool.settings.name().equals(pool))
        .map(Watched::health).filter(h -> h != null).mapToDouble(HealthScore::score).min();
    return lowest.isPresent() ? lowest.getAsDouble() : Double.NaN;
  }

  /** What the node's pools and workers are doing now. */
  public NodeStatus status() {
    long now = clock.getAsLong();
    List<NodeStatus.PoolStatus> result = new ArrayList<>();
    for (PoolWatch pool : pools.values()) {
      List<NodeStatus.WorkerStatus> ws = new ArrayList<>();
      workers.values().stream().filter(w -> w.pool == pool)
          .sorted(Comparator.comparingInt(Watched::slot).thenComparing(w -> w.id))
          .forEach(w -> ws.add(w.status(now, pool.lastExit(w.slot()), pool.restarts(w.slot(), now, restartsWindow))));
      double lowest = lowestHealth(pool.settings.name());
      result.add(new NodeStatus.PoolStatus(pool.settings.name(), pool.link.size(pool.settings),
          pool.settings.spares(), pool.link.queued(), pool.circuitOpen, Double.isNaN(lowest) ? null : lowest, ws));
    }
    return new NodeStatus(instance, Instant.now().truncatedTo(ChronoUnit.MILLIS), result);
  }

  /** One pool: its slots' history, its circuit, and the health recycle it has asked for. */
  private static final class PoolWatch {
    final PoolSettings settings;
    final PoolLink link;
    final long limitBytes;
    final String limitName;
    final double cpuShare;
    volatile boolean circuitOpen;
    /** Per slot: how its last worker ended, and when its workers were lost. */
    private final Map<Integer, SlotHistory> slots = new HashMap<>();
    /** Slots that differ from what a worker's id says: a spare's worker that took a slot's place. */
    private final Map<String, Integer> moved = new LinkedHashMap<>() {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
        return size() > 1024;
      }
    };
    /** The worker the last health recycle was asked for, and when; null when none is under way. */
    private String recycling;
    private long recyclingSince;

    PoolWatch(PoolSettings settings, PoolLink link) {
      this.settings = settings;
      this.link = link;
      WorkerSettings w = settings.worker();
      if (w.recycle().maxRssBytes() > 0) {
        limitBytes = w.recycle().maxRssBytes();
        limitName = "recycle.max-rss";
      } else {
        limitBytes = w.isolation().limits().memoryBytes();
        limitName = "isolation.limits.memory";
      }
      cpuShare = w.isolation().limits().cpus() > 0 ? w.isolation().limits().cpus() : 1.0;
    }

    /** The slot of worker {@code id}: where a replacement moved it, else what its id says; -1 if neither. */
    synchronized int slotOf(String id) {
      Integer slot = moved.get(id);
      return slot != null ? slot : slotInId(id);
    }

    synchronized void replaced(SnakepitEvent.WorkerReplaced e, Map<String, Watched> workers) {
      int goneSlot = slotOf(e.worker());
      int replacementSlot = slotOf(e.replacement());
      if (replacementSlot != goneSlot) {
        moved.put(e.replacement(), goneSlot);
        Watched r = workers.get(e.replacement());
        if (r != null) {
          r.slot = goneSlot;
        }
        if (e.why().equals("spare")) {
          // The two swapped: the worker still starting is the spare now.
          moved.put(e.worker(), replacementSlot);
          Watched w = workers.get(e.worker());
          if (w != null) {
            w.slot = replacementSlot;
          }
        }
      }
    }

    synchronized void exited(int slot, SnakepitEvent.WorkerExited e, long now) {
      SlotHistory h = slots.computeIfAbsent(slot, s -> new SlotHistory());
      h.last = new NodeStatus.LastExit(e.worker(), e.pid(), e.reason(), e.status(), e.time());
      if (!e.reason().equals("stopped")) {
        h.losses.add(now);
      }
      if (e.worker().equals(recycling)) {
        recycling = null;
      }
    }

    synchronized NodeStatus.LastExit lastExit(int slot) {
      SlotHistory h = slots.get(slot);
      return h == null ? null : h.last;
    }

    /** Workers slot {@code slot} lost within {@code window} before {@code now}. */
    synchronized int restarts(int slot, long now, Duration window) {
      SlotHistory h = slots.get(slot);
      if (h == null) {
        return 0;
      }
      h.losses.removeIf(t -> now - t > window.toNanos());
      return h.losses.size();
    }

    /** Asks to recycle the ready worker that has been below min-health long enough, the lowest first, if any. */
    synchronized void maybeRecycle(List<Watched> ready, long now, Map<String, Watched> live) {
      WorkerSettings.MinHealth min = settings.worker().recycle().minHealth();
      if (!min.on()) {
        return;
      }
      if (recycling != null) {
        Watched asked = live.get(recycling);
        if (asked != null && now - recyclingSince < RECYCLE_PATIENCE.toNanos()) {
          return; // one at a time: the pool keeps its other workers while that one is replaced
        }
        recycling = null;
      }
      Watched worst = null;
      for (Watched w : ready) {
        HealthScore h = w.health();
        if (h == null || w.isRetiring()) {
          continue;
        }
        int low = w.lowInARow(h.score() < min.threshold());
        if (low >= min.evaluations() && now - w.readyAt() >= min.after().toNanos()
            && (worst == null || h.score() < worst.health().score())) {
          worst = w;
        }
      }
      if (worst != null) {
        HealthScore h = worst.health();
        String reason = String.format(Locale.ROOT, "health %.2f below recycle.min-health %s (%s)", h.score(),
            trim(min.threshold()), h.why());
        LOG.info("pool '{}': asking to recycle worker {}: {}", settings.name(), worst.id, reason);
        recycling = worst.id;
        recyclingSince = now;
        link.tell(new PoolActor.RecycleWorker(worst.id, reason));
      }
    }

    private static String trim(double value) {
      String s = Double.toString(value);
      return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
    }
  }

  /** A slot's history: its last worker's end, and when it lost workers (nanoseconds). */
  private static final class SlotHistory {
    NodeStatus.LastExit last;
    final List<Long> losses = new ArrayList<>();
  }

  /** The slot a worker id names ({@code pool-slot-generation}); -1 if it names none. */
  static int slotInId(String id) {
    int last = id.lastIndexOf('-');
    int before = last > 0 ? id.lastIndexOf('-', last - 1) : -1;
    try {
      return before >= 0 ? Integer.parseInt(id.substring(before + 1, last)) : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** One live worker; written by its events (on its actor's thread) and the evaluation, each under its lock. */
  private static final class Watched {
    final String id;
    final PoolWatch pool;
    volatile int slot;
    private int shimPid;
    private int pid;
    private boolean ready;
    private boolean retiring;
    private long readyAt;
    private int inFlight;
    private long calls;
    private long failed;
    /** Average call time in nanoseconds, recent calls weighing more; NaN before the first. */
    private double latency = Double.NaN;
    private final Map<Long, Long> queued = new HashMap<>();
    private long baselineBytes;
    private long rssBytes;
    private double cpuSecondsBefore = -1;
    private long sampledAt;
    private double cpuPercent;
    /** Whether cpuPercent is measured: from the second sample on. */
    private boolean cpuMeasured;
    private HealthScore health;
    private int lowInARow;

    Watched(String id, PoolWatch pool, int slot) {
      this.id = id;
      this.pool = pool;
      this.slot = slot;
    }

    int slot() {
      return slot;
    }

    synchronized void spawned(int shimPid) {
      this.shimPid = shimPid;
    }

    synchronized void ready(int pid, int shimPid, long now, long residentBytes) {
      this.pid = pid;
      this.shimPid = shimPid;
      this.ready = true;
      this.readyAt = now;
      this.baselineBytes = residentBytes;
      this.rssBytes = residentBytes;
    }

    synchronized void retiring() {
      retiring = true;
    }

    synchronized boolean isRetiring() {
      return retiring;
    }

    synchronized long readyAt() {
      return readyAt;
    }

    synchronized void callStarted(long callId, Duration waited) {
      inFlight++;
      queued.put(callId, waited.toNanos());
    }

    synchronized void callEnded(long callId, SnakepitEvent.Outcome outcome, Duration took) {
      inFlight = Math.max(0, inFlight - 1);
      calls++;
      if (outcome != SnakepitEvent.Outcome.OK && outcome != SnakepitEvent.Outcome.CANCELLED) {
        failed++;
      }
      Long waited = queued.remove(callId);
      // took runs from the call's submission: what the worker took is that less its wait in the pool's queue.
      double ran = Math.max(0, took.toNanos() - (waited == null ? 0 : waited));
      latency = Double.isNaN(latency) ? ran : latency + LATENCY_WEIGHT * (ran - latency);
    }

    synchronized double latencyForMedian() {
      return calls >= LATENCY_MIN_CALLS ? latency : Double.NaN;
    }

    /** Reads its memory and CPU time now; false if it is not ready (nothing to read). */
    boolean sample(long now) {
      int p;
      synchronized (this) {
        if (!ready || pid <= 0) {
          return false;
        }
        p = pid;
      }
      long rss = ProcStat.residentBytes(p);
      double cpu = ProcStat.cpuSeconds(p);
      synchronized (this) {
        rssBytes = rss;
        if (cpu >= 0 && cpuSecondsBefore >= 0 && now > sampledAt) {
          cpuPercent = Math.max(0, (cpu - cpuSecondsBefore) / ((now - sampledAt) / 1e9) * 100);
          cpuMeasured = true;
        }
        cpuSecondsBefore = cpu;
        sampledAt = now;
      }
      return true;
    }

    synchronized void score(PoolWatch pool, double median, int restarts, Duration window, long now) {
      double ratio = Double.isNaN(median) || median <= 0 || calls < LATENCY_MIN_CALLS ? Double.NaN
          : latency / median;
      double share = cpuMeasured ? cpuPercent / 100 / pool.cpuShare : -1; // negative: not measured yet
      health = HealthScore.of(new HealthScore.Inputs(rssBytes, baselineBytes, pool.limitBytes, pool.limitName,
          share, ratio, restarts, window, Duration.ofNanos(now - readyAt)));
    }

    synchronized HealthScore health() {
      return health;
    }

    /** Counts an evaluation below the threshold ({@code low}) or not; returns how many in a row were. */
    synchronized int lowInARow(boolean low) {
      lowInARow = low ? lowInARow + 1 : 0;
      return lowInARow;
    }

    synchronized NodeStatus.WorkerStatus status(long now, NodeStatus.LastExit lastExit, int restarts) {
      String state = retiring ? "retiring" : !ready ? "starting" : inFlight > 0 ? "busy" : "idle";
      HealthScore h = health;
      NodeStatus.HealthFactors factors = h == null ? null : new NodeStatus.HealthFactors(h.factors().memory(),
          h.factors().cpu(), h.factors().latency(), h.factors().restarts(), h.factors().uptime());
      long rss = ready && pid > 0 ? ProcStat.residentBytes(pid) : 0;
      return new NodeStatus.WorkerStatus(id, slot, state, pid, shimPid, calls, failed, rss, cpuPercent,
          Double.isNaN(latency) ? 0 : latency / 1e6, h == null ? null : h.score(), factors,
          h == null ? "" : h.why(), restarts, ready ? (now - readyAt) / 1e9 : 0, lastExit);
    }
  }
}
