package io.snakepit.actors.worker;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to start one pool's workers, read from the pool's block under {@code snakepit.pools} (defaults in
 * reference.conf under {@code snakepit.pool-defaults}).
 *
 * @param python the Python executable
 * @param adapter the adapter, as {@code pkg.module:Class}
 * @param pythonPath directories put on PYTHONPATH after the snakepit_worker package
 * @param env extra environment variables for the workers
 * @param threads gRPC server threads inside each worker
 * @param startTimeout how long a worker may take to become ready
 * @param stopGrace how long a stopping worker gets to finish calls before it is killed
 * @param stderrTail how many of a worker's last stderr lines are kept for error messages
 * @param concurrency how many calls one worker runs at once
 * @param callTimeout the deadline of calls that set none; zero for none
 * @param health the periodic ping
 * @param recycle when a worker is replaced although it works
 * @param retryAttempts how many times in all an idempotent call may start on a worker that then crashes
 * @param isolation how the workers are contained and limited
 * @param lifelineGrace when the JVM dies (the shim's stdin closes), the tree's time between SIGTERM and SIGKILL
 * @param maxMessageSize the largest message, in bytes, between the JVM and a worker, each way
 * @param passEnv names of the JVM's environment variables the workers also get ({@code PREFIX*}: every name so
 *     prefixed)
 */
public record WorkerSettings(String python, String adapter, List<String> pythonPath, Map<String, String> env,
    int threads, Duration startTimeout, Duration stopGrace, int stderrTail, int concurrency, Duration callTimeout,
    Health health, Recycle recycle, int retryAttempts, Isolation isolation, Duration lifelineGrace,
    int maxMessageSize, List<String> passEnv) {

  /**
   * The health check: a ping every {@code interval} (zero turns it off) that must answer within {@code timeout};
   * after {@code maxMissed} misses in a row the worker is killed and replaced.
   */
  public record Health(Duration interval, Duration timeout, int maxMissed) {}

  /**
   * Recycling: a worker is drained and replaced after {@code maxCalls} calls, after {@code ttl}, or once its Python
   * process's resident memory passes {@code maxRssBytes}; zero turns each off.
   */
  public record Recycle(long maxCalls, Duration ttl, long maxRssBytes) {}

  /** Reads the settings from a pool's block, already merged with the defaults. */
  public static WorkerSettings fromConfig(Config c) {
    Map<String, String> env = new LinkedHashMap<>();
    Config envConfig = c.getConfig("env");
    for (String key : envConfig.root().keySet()) {
      env.put(key, envConfig.getString("\"" + key + "\""));
    }
    int concurrency = c.getInt("concurrency");
    long maxMessageSize = c.getBytes("max-message-size");
    if (maxMessageSize < 1024 || maxMessageSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("max-message-size is " + maxMessageSize + " bytes: gRPC takes 1KiB to 2047MiB;"
          + " set a size in that range, e.g. 64MiB");
    }
    if (concurrency < 1) {
      throw new IllegalArgumentException("concurrency is " + concurrency + ": a worker runs at least 1 call at once");
    }
    return new WorkerSettings(c.getString("python"), c.getString("adapter"), c.getStringList("python-path"),
        Map.copyOf(env), Math.max(c.getInt("threads"), concurrency), c.getDuration("start-timeout"),
        c.getDuration("stop-grace"), c.getInt("stderr-tail"), concurrency, c.getDuration("call-timeout"),
        new Health(c.getDuration("health.interval"), c.getDuration("health.timeout"), c.getInt("health.max-missed")),
        new Recycle(c.getLong("recycle.max-calls"), c.getDuration("recycle.ttl"), c.getBytes("recycle.max-rss")),
        c.getInt("retry.max-attempts"), Isolation.fromConfig(c.getConfig("isolation")),
        c.getDuration("lifeline-grace"), (int) maxMessageSize, passEnv(c.getStringList("pass-env")));
  }

  private static List<String> passEnv(List<String> names) {
    for (String name : names) {
      if (!name.matches("[A-Za-z_][A-Za-z0-9_]*\\*?")) {
        throw new IllegalArgumentException("pass-env names '" + name + "': give environment variable names (letters,"
            + " digits, '_'), or a prefix ending in '*' such as MY_APP_*");
      }
    }
    return List.copyOf(names);
  }
}
