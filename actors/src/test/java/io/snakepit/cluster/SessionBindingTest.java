package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.sharding.typed.ClusterShardingSettings;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializers;
import akka.serialization.jackson.JacksonCborSerializer;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session's binding to a node: the rule alone, the shard placement, its messages through Jackson CBOR, and the
 * entity itself under Cluster Sharding on a one-node cluster (it keeps a binding, rebinds a lost node's sessions and
 * forgets a binding unused for its TTL).
 */
class SessionBindingTest {
  private static ActorTestKit kit;
  private static String self;

  @BeforeAll
  static void start() throws IOException {
    OneNodeCluster node = OneNodeCluster.start();
    kit = node.kit();
    self = node.self();
    ClusterSharding.get(kit.system()).init(Entity.of(SessionBinding.key("p"), SessionBinding::create)
        .withSettings(ClusterShardingSettings.create(kit.system()).withNoPassivationStrategy())
        .withAllocationStrategy(new SessionShards()));
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void aBindingStaysUntilItsNodeIsGoneOrNoLongerAMember() {
    Set<String> members = Set.of("a", "b");
    assertEquals("b", SessionBinding.decide(null, "b", null, members::contains), "unbound: the proposal");
    assertEquals("a", SessionBinding.decide("a", "b", null, members::contains), "bound to a member: kept");
    assertEquals("a", SessionBinding.decide("a", "b", "c", members::contains), "another node gone: kept");
    assertEquals("b", SessionBinding.decide("a", "b", "a", members::contains), "its node gone: the proposal");
    assertEquals("b", SessionBinding.decide("x", "b", null, members::contains), "its node left: the proposal");
  }

  @Test
  void aBindingStartedAnewGoesToTheMemberThatUsedTheSessionLast() {
    Set<String> members = Set.of("a", "b", "c");
    assertEquals("b", SessionBinding.recovered(Map.of("a", 9_000L, "b", 40L, "c", -1L), members::contains));
    assertEquals("a", SessionBinding.recovered(Map.of("a", 9_000L, "x", 0L), members::contains),
        "a node that is not a member does not count");
    assertNull(SessionBinding.recovered(Map.of("a", -1L, "b", -1L), members::contains), "no node holds it");
    assertNull(SessionBinding.recovered(Map.of(), members::contains), "no node answered");
  }

  @Test
  void anEntityStartedAnewAsksThePoolsEndpointsAndKeepsTheNodeThatHoldsTheSession() {
    // Pool q's endpoint on this node, answered by the test: it holds session s-held, used 5 ms ago.
    TestProbe<PoolEndpoint.Command> endpoint = kit.createTestProbe(PoolEndpoint.Command.class);
    kit.system().receptionist().tell(Receptionist.register(ClusterPools.key("q"), endpoint.getRef()));
    TestProbe<Receptionist.Listing> listed = kit.createTestProbe(Receptionist.Listing.class);
    listed.awaitAssert(Duration.ofSeconds(10), () -> {
      kit.system().receptionist().tell(Receptionist.find(ClusterPools.key("q"), listed.getRef()));
      assertEquals(1, listed.receiveMessage().getServiceInstances(ClusterPools.key("q")).size());
      return null;
    });
    ClusterSharding.get(kit.system()).init(Entity.of(SessionBinding.key("q"), SessionBinding::create)
        .withSettings(ClusterShardingSettings.create(kit.system()).withNoPassivationStrategy())
        .withAllocationStrategy(new SessionShards()));
    EntityRef<SessionBinding.Command> session = ClusterSharding.get(kit.system())
        .entityRefFor(SessionBinding.key("q"), "s-held");
    var answer = session.<SessionBinding.Bound>ask(r -> new SessionBinding.Bind("snakepit@127.0.0.1:1", null,
        60_000, r), Duration.ofSeconds(20)).toCompletableFuture();
    PoolEndpoint.SessionHeld asked = endpoint.expectMessageClass(PoolEndpoint.SessionHeld.class,
        Duration.ofSeconds(10));
    assertEquals("s-held", asked.session());
    asked.replyTo().tell(new SessionBinding.Held(self, 5));
    assertEquals(self, answer.join().node(), "the node that holds the session, not the caller's proposal");
    assertEquals(self, bind(session, "snakepit@127.0.0.1:1", null, 60_000), "and it stays");
    endpoint.expectNoMessage(Duration.ofMillis(200)); // asked once, when the entity started
  }

  @Test
  void aShardGoesToTheRegionThatAskedAndNeverMoves() {
    assertEquals("r2", SessionShards.choose("r2", Set.of("r1", "r2")));
    assertEquals("r1", SessionShards.choose("r9", Set.of("r1")));
    assertEquals("r9", SessionShards.choose("r9", Set.of()));
    assertEquals(Set.of(), scala.jdk.javaapi.CollectionConverters.asJava(
        new SessionShards().rebalance(scala.collection.immutable.Map$.MODULE$.empty(),
            scala.collection.immutable.Set$.MODULE$.empty()).value().get().get()));
  }

  @Test
  void bindAndBoundRoundTripThroughJacksonCbor() throws Exception {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    var replyTo = kit.createTestProbe(SessionBinding.Bound.class).getRef();
    SessionBinding.Bind bind = new SessionBinding.Bind("snakepit@127.0.0.1:25521", null, 1_800_000, replyTo);
    SessionBinding.Bind back = roundTrip(serialization, bind);
    assertEquals(bind, back);
    assertEquals(new SessionBinding.Bound("snakepit@127.0.0.1:25522"),
        roundTrip(serialization, new SessionBinding.Bound("snakepit@127.0.0.1:25522")));
    assertEquals(new SessionBinding.Held("snakepit@127.0.0.1:25522", 42),
        roundTrip(serialization, new SessionBinding.Held("snakepit@127.0.0.1:25522", 42)));
    var entity = kit.createTestProbe(SessionBinding.Command.class).getRef();
    assertEquals(new PoolEndpoint.SessionHeld("cart-7", entity),
        roundTrip(serialization, new PoolEndpoint.SessionHeld("cart-7", entity)));
  }

  @Test
  void theShardedEntityKeepsRebindsAndForgetsAfterItsTtl() {
    EntityRef<SessionBinding.Command> session = ClusterSharding.get(kit.system())
        .entityRefFor(SessionBinding.key("p"), "s-1");
    assertEquals(self, bind(session, self, null, 60_000), "the first call binds it to the proposal");
    assertEquals(self, bind(session, "snakepit@127.0.0.1:1", null, 60_000), "a member's session stays");
    assertEquals("snakepit@127.0.0.1:1", bind(session, "snakepit@127.0.0.1:1", self, 60_000),
        "the caller found its node gone: the proposal");
    assertEquals(self, bind(session, self, null, 60_000), "a node that is not a member: the proposal");

    EntityRef<SessionBinding.Command> brief = ClusterSharding.get(kit.system())
        .entityRefFor(SessionBinding.key("p"), "s-2");
    assertEquals(self, bind(brief, self, null, 300));
    assertEquals(self, bind(brief, "snakepit@127.0.0.1:2", null, 300), "used within its TTL: kept");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    String now = self;
    while (now.equals(self) && System.nanoTime() < deadline) {
      sleep(600);
      now = bind(brief, "snakepit@127.0.0.1:2", null, 300);
    }
    assertEquals("snakepit@127.0.0.1:2", now, "unused past its TTL, the binding is forgotten within 10 s");
  }

  private static String bind(EntityRef<SessionBinding.Command> session, String proposed, String gone, long ttl) {
    return session.<SessionBinding.Bound>ask(r -> new SessionBinding.Bind(proposed, gone, ttl, r),
        Duration.ofSeconds(20)).toCompletableFuture().join().node();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T> T roundTrip(Serialization serialization, T message) throws Exception {
    akka.serialization.Serializer serializer = serialization.findSerializerFor(message);
    assertEquals(JacksonCborSerializer.class, serializer.getClass());
    byte[] bytes = serialization.serialize(message).get();
    return (T) serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message))
        .get();
  }
}
