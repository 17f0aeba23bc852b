package io.snakepit.bench;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.Snakepit;
import io.snakepit.cluster.ClusterSettings;
import java.util.concurrent.TimeUnit;

/**
 * A node in this JVM with the given pools and no other (the example adapter unless they name one), on a fresh instance
 * and data directory.
 */
final class Node implements AutoCloseable {
  /** The property that makes every benchmark node record its metrics (on), as snakepit serve's node does. */
  static final String METRICS_PROPERTY = "snakepit.bench.metrics";
  private static final boolean METRICS = java.util.Set.of("on", "true")
      .contains(System.getProperty(METRICS_PROPERTY, "off"));
  /** The actor system's name. */
  static final String SYSTEM = "bench";
  final String instance;
  final ActorSystem<Void> system;
  final Snakepit snakepit;

  private Node(String instance, ActorSystem<Void> system) {
    this.instance = instance;
    this.system = system;
    this.snakepit = Snakepit.get(system);
  }

  /**
   * Starts the node; its pools start at once (not awaited).
   *
   * @param pools the body of {@code snakepit.pools}, e.g. {@code p { workers = 8 }}
   */
  static Node start(Context c, String pools) {
    return start(c, c.freshInstance("bench"), pools);
  }

  static Node start(Context c, String instance, String pools) {
    return start(c, instance, pools, "");
  }

  /** As {@link #start(Context, String, String)}, with more settings ({@code extra}, HOCON) over the shared ones. */
  static Node start(Context c, String instance, String pools, String extra) {
    return start(ConfigFactory.load(ConfigFactory.parseString("snakepit.pools { " + pools + " }\n" + extra)
        .withFallback(settings(c, instance))), instance);
  }

  /**
   * As {@link #start(Context, String, String, String)}, as a member of a cluster: {@code cluster}'s settings over the
   * node's (the actor system is named {@link #SYSTEM} on every node, as a cluster needs).
   */
  static Node startClustered(Context c, String instance, String pools, ClusterSettings cluster) {
    // Several members in one JVM: each registers its own JMX bean rather than warn that the name is taken.
    return start(ConfigFactory.load(cluster.over(ConfigFactory.parseString("snakepit.pools { " + pools + " }\n"
        + "akka.cluster.jmx.multi-mbeans-in-same-jvm = on\n").withFallback(settings(c, instance)), SYSTEM)),
        instance);
  }

  private static Node start(Config config, String instance) {
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), SYSTEM, config);
    if (METRICS) {
      Snakepit.bindMetrics(system, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }
    return new Node(instance, system);
  }

  /** The settings every benchmark node shares: its names, the Python, the example adapter, quiet logs. */
  static Config settings(Context c, String instance) {
    return ConfigFactory.parseString(
        "snakepit.instance = \"" + instance + "\"\n"
            + "snakepit.data-dir = \"" + c.scratch().resolve("data") + "\"\n"
            + "snakepit.pool-defaults.python = \"" + c.python() + "\"\n"
            + "snakepit.pool-defaults.adapter = \"snakepit_worker.examples.basic:BasicAdapter\"\n"
            + "snakepit.pool-defaults.health.interval = 0s\n"
            + "akka.loglevel = WARNING\n"
            + "akka.loggers = [\"akka.event.slf4j.Slf4jLogger\"]\n"
            + "akka.logging-filter = \"akka.event.slf4j.Slf4jLoggingFilter\"\n");
  }

  /** Waits until every pool is ready. */
  void awaitReady() throws Exception {
    snakepit.ready().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }
}
