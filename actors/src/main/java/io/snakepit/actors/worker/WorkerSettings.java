package io.snakepit.actors.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import io.snakepit.settings.SettingPaths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
 * @param output what becomes of the workers' stdout and stderr
 * @param callChannel how one-result calls reach a worker: many on one stream, or an RPC each
 * @param snapshot when the adapter's state is taken, to be restored into the worker that replaces it
 */
public record WorkerSettings(String python, String adapter, List<String> pythonPath, Map<String, String> env,
    int threads, Duration startTimeout, Duration stopGrace, int stderrTail, int concurrency, Duration callTimeout,
    Health health, Recycle recycle, int retryAttempts, Isolation isolation, Duration lifelineGrace,
    int maxMessageSize, List<String> passEnv, Output output, CallChannel callChannel, Snapshot snapshot) {

  /**
   * The adapter's state ({@code snapshot()} and {@code restore(state)} in Python): taken every {@code interval} (zero:
   * only at a stop) and, when {@code onStop}, as the worker stops (recycled, resized away, the pool stopping); a state
   * over {@code maxBytes} is refused, and one not taken within {@code timeout} is given up on.
   */
  public record Snapshot(Duration interval, long maxBytes, Duration timeout, boolean onStop) {
    static Snapshot fromConfig(Config c, String prefix) {
      long maxBytes = c.getBytes("snapshot.max-bytes");
      if (maxBytes < 1 || maxBytes > 64L << 20) {
        throw new IllegalArgumentException("snakepit." + prefix + "snapshot.max-bytes is " + maxBytes + " bytes: set"
            + " the largest state a worker's snapshot() may return, from 1 byte to 64MiB, e.g. 1MiB");
      }
      Duration timeout = c.getDuration("snapshot.timeout");
      if (timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("snakepit." + prefix + "snapshot.timeout is " + timeout.toMillis()
            + " ms: set how long a snapshot may wait for the worker's running calls and take, e.g. 5s");
      }
      return new Snapshot(c.getDuration("snapshot.interval"), maxBytes, timeout, c.getBoolean("snapshot.on-stop"));
    }
  }

  /** How one-result calls reach a worker (reference.conf documents {@code call-channel}). */
  public enum CallChannel {
    /** Many calls on one long-lived Calls stream per worker, by id. */
    MULTIPLEXED,
    /** One Execute RPC per call. */
    UNARY;

    static CallChannel fromConfig(Config c, String prefix) {
      String value = c.getString("call-channel");
      return switch (value) {
        case "multiplexed" -> MULTIPLEXED;
        case "unary" -> UNARY;
        default -> throw new IllegalArgumentException("snakepit." + prefix + "call-channel is '" + value
            + "': set multiplexed (many calls on one stream per worker) or unary (one RPC per call)");
      };
    }
  }

  /**
   * The health check: a ping every {@code interval} (zero turns it off) that must answer within {@code timeout};
   * after {@code maxMissed} misses in a row the worker is killed and replaced. The pool's rounds, one every
   * interval, tick at most {@code maxRate} x interval workers each (0: every worker), so in a bigger pool each worker
   * is pinged less often.
   */
  public record Health(Duration interval, Duration timeout, int maxMissed, double maxRate) {}


  /**
   * Recycling: a worker is drained and replaced after {@code maxCalls} calls, after {@code ttl}, or once its Python
   * process's resident memory passes {@code maxRssBytes}; zero turns each off.
   */
  public record Recycle(long maxCalls, Duration ttl, long maxRssBytes, MinHealth minHealth) {
    /** Without recycling for health. */
    public Recycle(long maxCalls, Duration ttl, long maxRssBytes) {
      this(maxCalls, ttl, maxRssBytes, MinHealth.OFF);
    }
  }

  /**
   * Recycling for health ({@code recycle.min-health}): a ready worker whose health score stays below
   * {@code threshold} for {@code evaluations} evaluations in a row, and is at least {@code after} old, is recycled;
   * {@code threshold} 0 turns it off.
   */
  public record MinHealth(double threshold, int evaluations, Duration after) {
    public static final MinHealth OFF = new MinHealth(0, 3, Duration.ofSeconds(30));

    public boolean on() {
      return threshold > 0;
    }

    static MinHealth fromConfig(Config c, String prefix) {
      double threshold = c.getDouble("recycle.min-health");
      if (!(threshold >= 0 && threshold < 1)) {
        throw new IllegalArgumentException("snakepit." + prefix + "recycle.min-health is " + threshold + ": set a"
            + " health score from 0 to below 1 under which a worker is recycled, e.g. 0.5, or 0 to turn it off");
      }
      int evaluations = c.getInt("recycle.min-health-evaluations");
      if (evaluations < 1) {
        throw new IllegalArgumentException("snakepit." + prefix + "recycle.min-health-evaluations is " + evaluations
            + ": set how many evaluations in a row a worker's health must be below recycle.min-health, at least 1,"
            + " e.g. 3");
      }
      return new MinHealth(threshold, evaluations, c.getDuration("recycle.min-health-after"));
    }
  }

  /**
   * What becomes of the workers' stdout and stderr ({@link WorkerOutput}; reference.conf documents each setting).
   *
   * @param mode where complete lines go
   * @param maxLine the longest line kept, in bytes; the rest is cut
   * @param rate lines a second a worker may send to the log (0: no limit)
   * @param burst lines a worker may send to the log at once, above the rate
   * @param droppedReportInterval how often, at most, a worker's dropped lines are reported
   * @param fileDir where {@code file} mode writes; empty: the node's run directory
   * @param fileMaxSize the size at which a worker's file is rotated
   * @param fileKeep how many rotated files a worker keeps
   * @param pythonLogs from which level Python's log records are forwarded as structured records; "off" for none
   */
  public record Output(Mode mode, int maxLine, double rate, int burst, Duration droppedReportInterval, String fileDir,
      long fileMaxSize, int fileKeep, String pythonLogs) {

    /** The values python-logs takes. */
    static final List<String> PYTHON_LOG_LEVELS = List.of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "off");

    /** Where complete lines go. */
    public enum Mode { LOG, FILE, DISCARD }

    /** Reads the {@code output*} settings of a pool's block. */
    static Output fromConfig(Config c, SettingPaths paths, String prefix) {
      String name = c.getString("output");
      Mode mode = switch (name) {
        case "log" -> Mode.LOG;
        case "file" -> Mode.FILE;
        case "discard" -> Mode.DISCARD;
        default -> throw new IllegalArgumentException("output is '" + name + "': set it to log, file or discard");
      };
      long maxLine = c.getBytes("output-max-line");
      if (maxLine < 64 || maxLine > 1024 * 1024) {
        throw new IllegalArgumentException("output-max-line is " + maxLine + " bytes: set a size from 64B to 1MiB,"
            + " e.g. 8KiB");
      }
      double rate = c.getDouble("output-rate");
      if (!(rate >= 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException("output-rate is " + rate + ": set the lines a second each worker may log,"
            + " e.g. 200, or 0 for no limit");
      }
      int burst = c.getInt("output-burst");
      if (burst < 1) {
        throw new IllegalArgumentException("output-burst is " + burst + ": set how many lines may be logged at once"
            + " above output-rate, at least 1, e.g. 1000");
      }
      Duration interval = c.getDuration("output-dropped-report");
      if (interval.toMillis() < 100) {
        throw new IllegalArgumentException("output-dropped-report is " + interval.toMillis() + " ms: set 100ms or"
            + " more, e.g. 5s");
      }
      long maxSize = c.getBytes("output-file.max-size");
      if (maxSize < 4096) {
        throw new IllegalArgumentException("output-file.max-size is " + maxSize + " bytes: set 4KiB or more, e.g."
            + " 10MiB");
      }
      int keep = c.getInt("output-file.keep");
      if (keep < 0 || keep > 1000) {
        throw new IllegalArgumentException("output-file.keep is " + keep + ": set how many rotated files to keep,"
            + " from 0 to 1000, e.g. 2");
      }
      String dir = c.getString("output-file.dir");
      if (!dir.isEmpty()) {
        dir = paths.resolve("snakepit." + prefix + "output-file.dir", c.getValue("output-file.dir")).toString();
      }
      String pythonLogs = c.getString("python-logs");
      String level = pythonLogs.equalsIgnoreCase("off") ? "off" : pythonLogs.toUpperCase(Locale.ROOT);
      if (!PYTHON_LOG_LEVELS.contains(level)) {
        throw new IllegalArgumentException("python-logs is '" + pythonLogs + "': set the level from which Python's"
            + " log records reach the node's log (DEBUG, INFO, WARNING, ERROR or CRITICAL), or off");
      }
      return new Output(mode, (int) maxLine, rate, burst, interval, dir, maxSize, keep, level);
    }
  }

  /**
   * Reads the settings from a pool's block, already merged with the defaults; its paths must be absolute or come from
   * a configuration file ({@link SettingPaths}).
   */
  public static WorkerSettings fromConfig(Config c) {
    return fromConfig(c, SettingPaths.of(ConfigFactory.empty()), "pool-defaults.");
  }

  /**
   * Reads the settings from a pool's block, already merged with the defaults, resolving its relative paths with
   * {@code paths}.
   *
   * @param prefix where the block sits under {@code snakepit}, e.g. {@code pools.x.}, for messages
   */
  public static WorkerSettings fromConfig(Config c, SettingPaths paths, String prefix) {
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
    // A bare name (python3) is looked up on PATH; anything with a slash is a path.
    String python = c.getString("python");
    if (python.contains("/")) {
      python = paths.resolve("snakepit." + prefix + "python", c.getValue("python")).toString();
    }
    List<String> pythonPath = new ArrayList<>();
    ConfigList entries = c.getList("python-path");
    for (int i = 0; i < entries.size(); i++) {
      pythonPath.add(paths.resolve("snakepit." + prefix + "python-path[" + i + "]", entries.get(i)).toString());
    }
    return new WorkerSettings(python, c.getString("adapter"), List.copyOf(pythonPath),
        Map.copyOf(env), Math.max(c.getInt("threads"), concurrency), c.getDuration("start-timeout"),
        c.getDuration("stop-grace"), c.getInt("stderr-tail"), concurrency, c.getDuration("call-timeout"),
        health(c),
        new Recycle(c.getLong("recycle.max-calls"), c.getDuration("recycle.ttl"), c.getBytes("recycle.max-rss"),
            MinHealth.fromConfig(c, prefix)),
        c.getInt("retry.max-attempts"), Isolation.fromConfig(c.getConfig("isolation")),
        c.getDuration("lifeline-grace"), (int) maxMessageSize, passEnv(c.getStringList("pass-env")),
        Output.fromConfig(c, paths, prefix), CallChannel.fromConfig(c, prefix), Snapshot.fromConfig(c, prefix));
  }

  private static Health health(Config c) {
    double maxRate = c.getDouble("health.max-rate");
    if (maxRate < 0) {
      throw new IllegalArgumentException("health.max-rate is " + maxRate + ": set the most pings a second the pool"
          + " sends, e.g. 10, or 0 for no bound");
    }
    return new Health(c.getDuration("health.interval"), c.getDuration("health.timeout"),
        c.getInt("health.max-missed"), maxRate);
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
