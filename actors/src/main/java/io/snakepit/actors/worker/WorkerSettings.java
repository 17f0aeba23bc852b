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
 */
public record WorkerSettings(String python, String adapter, List<String> pythonPath, Map<String, String> env,
    int threads, Duration startTimeout, Duration stopGrace, int stderrTail) {

  /** Reads the settings from a pool's block, already merged with the defaults. */
  public static WorkerSettings fromConfig(Config c) {
    Map<String, String> env = new LinkedHashMap<>();
    Config envConfig = c.getConfig("env");
    for (String key : envConfig.root().keySet()) {
      env.put(key, envConfig.getString("\"" + key + "\""));
    }
    return new WorkerSettings(c.getString("python"), c.getString("adapter"), c.getStringList("python-path"),
        Map.copyOf(env), c.getInt("threads"), c.getDuration("start-timeout"), c.getDuration("stop-grace"),
        c.getInt("stderr-tail"));
  }

  /** The shim's grace before SIGKILL: the worker's own graceful stop plus its hard deadline. */
  public Duration shimGrace() {
    return stopGrace.plusMillis(1500);
  }
}
