package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.Cluster;
import akka.cluster.MemberStatus;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import io.snakepit.NodeStatus;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three clustered actor systems in this JVM (artery on loopback, real Jackson CBOR between them): one asks for the
 * cluster's status, one answers with its own, and one has a status actor registered that never answers. The silent
 * one is listed as unreachable, and the question still ends within its bound.
 */
class ClusterStatusTest {
  private static final Duration TIMEOUT = Duration.ofMillis(1500);
  private static final List<ActorTestKit> kits = new ArrayList<>();
  private static ClusterStatus asking;
  private static String answering;
  private static String silent;

  @BeforeAll
  static void start() throws Exception {
    int first = freePort();
    List<ClusterSettings.Seed> seeds = List.of(new ClusterSettings.Seed("127.0.0.1", first));
    for (int port : List.of(first, freePort(), freePort())) {
      ClusterSettings settings = new ClusterSettings("127.0.0.1", port, seeds, Duration.ofSeconds(30), false, null);
      kits.add(ActorTestKit.create("snakepit", settings.over(ConfigFactory.load(), "snakepit")));
    }
    for (ActorTestKit kit : kits) {
      awaitUp(kit.system(), kits.size());
    }
    asking = ClusterStatus.start(kits.get(0).system(), () -> status("node-one"), TIMEOUT);
    ClusterStatus.start(kits.get(1).system(), () -> status("node-two"), TIMEOUT);
    // Registered under the key, and never answers: a paused or overloaded node, as the asker sees it.
    kits.get(2).system().systemActorOf(Behaviors.<ClusterStatus.Command>setup(context -> {
      context.getSystem().receptionist().tell(Receptionist.register(ClusterStatus.KEY, context.getSelf()));
      return Behaviors.ignore();
    }), "silent-status", akka.actor.typed.Props.empty());
    answering = "snakepit@127.0.0.1:" + port(kits.get(1));
    silent = "snakepit@127.0.0.1:" + port(kits.get(2));
  }

  @AfterAll
  static void stop() {
    kits.forEach(ActorTestKit::shutdownTestKit);
  }

  @Test
  void everyNodeIsListedAndOneThatDoesNotAnswerIsUnreachableWithinTheBound() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    ObjectNode status;
    long tookMillis;
    do {
      long asked = System.nanoTime();
      status = asking.gather().toCompletableFuture().get(10, TimeUnit.SECONDS);
      tookMillis = (System.nanoTime() - asked) / 1_000_000;
      // The Receptionist spreads registrations by gossip: wait until both others' are seen.
    } while (!(find(status, answering).path("reachable").asBoolean()
        && find(status, silent).has("error") && find(status, silent).get("error").asText().startsWith("no answer"))
        && System.nanoTime() < deadline);
    assertEquals("node-one", status.get("instance").asText(), "the top level stays the asking node's");
    assertEquals(3, status.get("nodes").size(), status.toString());
    List<String> order = new ArrayList<>();
    status.get("nodes").forEach(n -> order.add(n.get("address").asText()));
    assertEquals(order.stream().sorted().toList(), order, "nodes in address order");
    JsonNode self = find(status, "snakepit@127.0.0.1:" + port(kits.get(0)));
    assertTrue(self.get("self").asBoolean() && self.get("reachable").asBoolean(), self.toString());
    assertEquals("node-one", self.get("instance").asText(), self.toString());
    JsonNode two = find(status, answering);
    assertEquals("node-two", two.get("instance").asText(), two.toString());
    assertFalse(two.get("self").asBoolean(), two.toString());
    assertEquals("default", two.get("pools").get(0).get("name").asText(), two.toString());
    assertEquals(4242, two.get("pools").get(0).get("workers").get(0).get("pid").asInt(), two.toString());
    JsonNode quiet = find(status, silent);
    assertFalse(quiet.get("reachable").asBoolean(), quiet.toString());
    assertEquals("no answer within snakepit.cluster.status-timeout = 1500 ms", quiet.get("error").asText());
    // Each node is asked at once, each within the timeout; the Receptionist too: at most about twice it.
    assertTrue(tookMillis < 2 * TIMEOUT.toMillis() + 2000, "status took " + tookMillis + " ms");
  }

  @Test
  void theStatusTimeoutSettingIsCheckedAndHasADefault() {
    assertEquals(Duration.ofSeconds(3), ClusterStatus.timeout(ConfigFactory.load()));
    String why = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> ClusterStatus.timeout(ConfigFactory.parseString("snakepit.cluster.status-timeout = 0s")
            .withFallback(ConfigFactory.load()))).getMessage();
    assertTrue(why.contains("snakepit.cluster.status-timeout") && why.contains("3s"), why);
  }

  private static JsonNode find(JsonNode status, String address) {
    for (JsonNode n : status.get("nodes")) {
      if (n.get("address").asText().equals(address)) {
        return n;
      }
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }

  private static NodeStatus status(String instance) {
    NodeStatus.WorkerStatus worker = new NodeStatus.WorkerStatus("default-0-1", 0, "idle", 4242, 4241, 0, 0, 0, 0,
        0, null, null, "", 0, 1, null);
    return new NodeStatus(instance, Instant.now(), List.of(new NodeStatus.PoolStatus("default", 1, 0, 0, false,
        null, List.of(worker))));
  }

  private static void awaitUp(ActorSystem<?> system, int members) throws InterruptedException {
    Cluster cluster = Cluster.get(Adapter.toClassic(system));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      long up = 0;
      for (akka.cluster.Member m : cluster.state().getMembers()) {
        up += m.status() == MemberStatus.up() ? 1 : 0;
      }
      if (up == members) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("the cluster did not reach " + members + " members Up within 30 s: " + cluster.state());
  }

  private static int port(ActorTestKit kit) {
    return (Integer) Cluster.get(Adapter.toClassic(kit.system())).selfAddress().port().get();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
