package io.snakepit.cluster;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;

/**
 * A test kit whose actor system is a cluster of one: a node on a free loopback port that seeds itself, for the tests
 * of the cluster's messages, entities and routing that need a cluster but not another node.
 *
 * @param kit the kit (shut it down after the tests)
 * @param self the node's name as cluster pools give it, {@code snakepit@127.0.0.1:PORT}
 */
record OneNodeCluster(ActorTestKit kit, String self) {

  /** A node over reference.conf. */
  static OneNodeCluster start() throws IOException {
    return start(ConfigFactory.empty());
  }

  /** A node with {@code overrides} over reference.conf. */
  static OneNodeCluster start(Config overrides) throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    ClusterSettings settings = new ClusterSettings("127.0.0.1", port,
        List.of(new ClusterSettings.Seed("127.0.0.1", port)), Duration.ofSeconds(30), false, null);
    ActorTestKit kit = ActorTestKit.create("snakepit",
        settings.over(overrides.withFallback(ConfigFactory.load()), "snakepit"));
    return new OneNodeCluster(kit, "snakepit@127.0.0.1:" + port);
  }
}
