package io.snakepit.actors.pool;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import io.snakepit.actors.worker.WorkerSettings;
import io.snakepit.settings.SettingPaths;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One pool's settings: its block under {@code snakepit.pools}, merged over {@code snakepit.pool-defaults}.
 *
 * @param name the pool's name
 * @param workers how many workers it keeps
 * @param spares how many more it keeps started and idle, to take a dead worker's place at once
 * @param queueCapacity how many calls may wait for a worker before calls are refused
 * @param queueTimeout how long a call may wait in the queue; zero for no limit
 * @param restartBackoffMin the first delay before retrying a worker that failed to start
 * @param restartBackoffMax the longest such delay
 * @param worker how each worker is started
 * @param retryBackoff the delay before an idempotent call runs again after a crash (doubling per attempt)
 * @param taintCrashes crashes of one slot within taintWindow that taint it
 * @param taintWindow see taintCrashes
 * @param breakerMaxFailures failures in a row that open the circuit; 0: no breaker
 * @param breakerReset how long the circuit stays open before a probe
 * @param sessionTtl how long an unused session stays bound to its worker
 * @param startConcurrency how many of its workers may be starting at once (from the worker supervisor's start to
 *     ready); the others wait their turn
 */
public record PoolSettings(String name, int workers, int spares, int queueCapacity, Duration queueTimeout,
    Duration restartBackoffMin, Duration restartBackoffMax, WorkerSettings worker, Duration retryBackoff,
    int taintCrashes, Duration taintWindow, int breakerMaxFailures, Duration breakerReset, Duration sessionTtl,
    int startConcurrency) {

  /**
   * Reads pool {@code name} from the {@code snakepit} block; relative paths in it must be absolute, or come from a
   * configuration file (see {@link SettingPaths}).
   */
  public static PoolSettings fromConfig(String name, Config snakepit) {
    return fromConfig(name, snakepit, SettingPaths.of(snakepit));
  }

  /**
   * Reads pool {@code name} from the {@code snakepit} block, resolving its relative paths with {@code paths}.
   *
   * @throws IllegalArgumentException naming the setting, its value and the fix, if a setting is unusable
   */
  public static PoolSettings fromConfig(String name, Config snakepit, SettingPaths paths) {
    String path = "pools.\"" + name + "\"";
    Config c = snakepit.hasPath(path)
        ? detached(snakepit.getObject(path)).withFallback(snakepit.getConfig("pool-defaults"))
        : snakepit.getConfig("pool-defaults");
    if (c.getString("adapter").isBlank()) {
      throw new IllegalArgumentException("snakepit.pools." + name + ".adapter is not set: set it to the adapter the"
          + " pool's workers serve, as pkg.module:Class (with its directory in python-path), e.g. snakepit.pools."
          + name + " { adapter = \"my_tools:MyAdapter\", python-path = [\"/srv/adapters\"] }");
    }
    int workers = c.getInt("workers");
    if (workers < 1) {
      throw new IllegalArgumentException("snakepit.pools." + name + ".workers is " + workers
          + ": a pool needs at least 1 worker");
    }
    int spares = c.getInt("spares");
    if (spares < 0) {
      throw new IllegalArgumentException("snakepit.pools." + name + ".spares is " + spares
          + ": use 0 for no warm spare workers");
    }
    int capacity = c.getInt("queue-capacity");
    if (capacity < 0) {
      throw new IllegalArgumentException("snakepit.pools." + name + ".queue-capacity is " + capacity
          + ": use 0 to refuse calls whenever every worker is busy");
    }
    return new PoolSettings(name, workers, spares, capacity, c.getDuration("queue-timeout"),
        c.getDuration("restart-backoff.min"),
        c.getDuration("restart-backoff.max"), WorkerSettings.fromConfig(c, paths, "pools." + name + "."),
        c.getDuration("retry.backoff"),
        c.getInt("taint.crashes"), c.getDuration("taint.window"), c.getInt("circuit-breaker.max-failures"),
        c.getDuration("circuit-breaker.reset-timeout"), c.getDuration("session-ttl"),
        startConcurrency(name, c));
  }

  /**
   * A copy of a pool's block that takes fallbacks. A block merged over null ({@code pools.x = null} in one file,
   * {@code pools.x { ... }} in another) ignores every later fallback, so pool-defaults would never fill it in.
   */
  static Config detached(ConfigObject block) {
    return rebuild(block).toConfig();
  }

  private static ConfigObject rebuild(ConfigObject block) {
    Map<String, Object> copy = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigValue> e : block.entrySet()) {
      copy.put(e.getKey(), e.getValue() instanceof ConfigObject o ? rebuild(o) : e.getValue());
    }
    return ConfigValueFactory.fromMap(copy);
  }

  /** The pool with {@code workers} workers (a resize). */
  public PoolSettings withWorkers(int workers) {
    return new PoolSettings(name, workers, spares, queueCapacity, queueTimeout, restartBackoffMin, restartBackoffMax,
        worker, retryBackoff, taintCrashes, taintWindow, breakerMaxFailures, breakerReset, sessionTtl,
        startConcurrency);
  }

  /** {@code start-concurrency}: a count, or {@code auto} for the processors the JVM may use. */
  private static int startConcurrency(String name, Config c) {
    String value = c.getString("start-concurrency").trim();
    if (value.equals("auto")) {
      return Runtime.getRuntime().availableProcessors();
    }
    try {
      int n = Integer.parseInt(value);
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("snakepit.pools." + name + ".start-concurrency is '" + value
        + "': use auto (the number of processors) or a count of 1 or more");
  }
}
