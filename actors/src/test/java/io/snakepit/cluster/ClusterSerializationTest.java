package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializers;
import akka.serialization.jackson.JacksonCborSerializer;
import java.io.IOException;
import java.io.Serializable;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A clustered node's actor system serializes cluster messages with Jackson CBOR, and refuses Java serialization. */
class ClusterSerializationTest {
  /** A message between nodes, arguments as bytes as a call's would travel. */
  record Probe(String pool, byte[] arguments, List<String> path) implements ClusterMessage {}

  /** A message that forgot the marker: Java serialization would be its only way out. */
  record Forgotten(String what) implements Serializable {}

  private static ActorTestKit kit;

  @BeforeAll
  static void start() throws IOException {
    kit = OneNodeCluster.start().kit();
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void clusteredNodeHasJavaSerializationOff() {
    assertFalse(kit.system().settings().config().getBoolean("akka.actor.allow-java-serialization"));
    assertEquals("cluster", kit.system().settings().config().getString("akka.actor.provider"));
  }

  @Test
  void clusterMessageRoundTripsThroughJacksonCbor() throws Exception {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    Probe probe = new Probe("default", new byte[] {0, 1, (byte) 0xff}, List.of("a", "b"));
    akka.serialization.Serializer serializer = serialization.findSerializerFor(probe);
    assertEquals(JacksonCborSerializer.class, serializer.getClass());
    byte[] bytes = serialization.serialize(probe).get();
    Probe back = (Probe) serialization.deserialize(bytes, serializer.identifier(),
        Serializers.manifestFor(serializer, probe)).get();
    assertEquals(probe.pool(), back.pool());
    assertEquals(List.of((byte) 0, (byte) 1, (byte) 0xff), List.of(back.arguments()[0], back.arguments()[1],
        back.arguments()[2]));
    assertEquals(probe.path(), back.path());
  }

  @Test
  void callsAndRepliesBetweenNodesRoundTripThroughJacksonCbor() throws Exception {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    akka.actor.typed.ActorRef<PoolDirectory.Command> replyTo = kit.createTestProbe(PoolDirectory.Command.class)
        .getRef();
    PoolEndpoint.Call call = new PoolEndpoint.Call("r1", new byte[] {10, 3, 112, 105, 100}, 5_000_000_000L, true,
        "s1", "STRICT_QUEUE", replyTo);
    PoolEndpoint.Call callBack = roundTrip(serialization, call);
    assertEquals(replyTo, callBack.replyTo());
    assertEquals(5_000_000_000L, callBack.timeoutNanos());
    assertEquals(5, callBack.request().length);
    assertEquals("s1", callBack.session());
    assertEquals("STRICT_QUEUE", callBack.affinity());
    PoolDirectory.Reply reply = new PoolDirectory.Reply("r1", null, false, RemoteError.of(
        io.snakepit.PythonException.of("KeyError", "'x'", "tb")), "default", "snakepit@127.0.0.1:1",
        new PoolLoad(1, 2, 3));
    PoolDirectory.Reply replyBack = roundTrip(serialization, reply);
    assertEquals(reply.error(), replyBack.error());
    assertEquals(reply.load(), replyBack.load());
    PoolDirectory.Loads loads = new PoolDirectory.Loads("snakepit@127.0.0.1:1", java.util.Map.of("default",
        new PoolLoad(0, 4, 1024)));
    assertEquals(loads, roundTrip(serialization, loads));

    PoolEndpoint.CallPart callPart = new PoolEndpoint.CallPart(call, 2, 7);
    PoolEndpoint.CallPart callPartBack = roundTrip(serialization, callPart);
    assertEquals(2, callPartBack.index());
    assertEquals(7, callPartBack.count());
    assertEquals("r1", callPartBack.call().callId());
    assertEquals(replyTo, callPartBack.call().replyTo());
    assertEquals(java.util.Arrays.toString(call.request()), java.util.Arrays.toString(callPartBack.call().request()));
    PoolDirectory.ReplyPart replyPart = new PoolDirectory.ReplyPart(new PoolDirectory.Reply("r1",
        new byte[] {0, (byte) 0xff, 7}, true, null, "default", "snakepit@127.0.0.1:1", new PoolLoad(1, 2, 3)), 0, 3);
    PoolDirectory.ReplyPart replyPartBack = roundTrip(serialization, replyPart);
    assertEquals(0, replyPartBack.index());
    assertEquals(3, replyPartBack.count());
    assertEquals("[0, -1, 7]", java.util.Arrays.toString(replyPartBack.reply().value()));
    assertEquals(true, replyPartBack.reply().bytes());
    assertEquals(replyPart.reply().load(), replyPartBack.reply().load());
  }

  @Test
  void streamMessagesBetweenNodesRoundTripThroughJacksonCbor() throws Exception {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    akka.actor.typed.ActorRef<PoolDirectory.Command> replyTo = kit.createTestProbe(PoolDirectory.Command.class)
        .getRef();
    akka.actor.typed.ActorRef<ServedStream.Command> served = kit.createTestProbe(ServedStream.Command.class)
        .getRef();
    StreamProtocol.Open open = new StreamProtocol.Open("s1", new byte[] {10, 3, 112, 105, 100}, 7L, true, "s",
        "STRICT_QUEUE", replyTo);
    StreamProtocol.Open openBack = roundTrip(serialization, open);
    assertEquals(replyTo, openBack.replyTo());
    assertEquals(List.of("s1", 7L, true, "s", "STRICT_QUEUE", 5), List.of(openBack.callId(), openBack.timeoutNanos(),
        openBack.idempotent(), openBack.session(), openBack.affinity(), openBack.request().length));
    assertEquals(new StreamProtocol.Demand(2, 16), roundTrip(serialization, new StreamProtocol.Demand(2, 16)));
    assertEquals(StreamProtocol.Cancel.INSTANCE, roundTrip(serialization, StreamProtocol.Cancel.INSTANCE));
    assertEquals(served, roundTrip(serialization, new StreamProtocol.Accepted("s1", served)).stream());
    assertEquals(new StreamProtocol.Started("s1", 3), roundTrip(serialization, new StreamProtocol.Started("s1", 3)));
    StreamProtocol.Item item = roundTrip(serialization, new StreamProtocol.Item("s1", new byte[] {1, (byte) 0xff},
        true));
    assertEquals(List.of("s1", true, (byte) 1, (byte) 0xff), List.of(item.callId(), item.bytes(), item.value()[0],
        item.value()[1]));
    StreamProtocol.End end = new StreamProtocol.End("s1", RemoteError.of(new io.snakepit.CallTimeoutException("late")),
        "flow", "snakepit@127.0.0.1:1", new PoolLoad(0, 1, 2));
    assertEquals(end, roundTrip(serialization, end));
    StreamProtocol.End finished = new StreamProtocol.End("s2", null, "flow", "snakepit@127.0.0.1:1", null);
    assertEquals(finished, roundTrip(serialization, finished));
  }

  @SuppressWarnings("unchecked")
  private static <T> T roundTrip(Serialization serialization, T message) throws Exception {
    akka.serialization.Serializer serializer = serialization.findSerializerFor(message);
    assertEquals(JacksonCborSerializer.class, serializer.getClass());
    byte[] bytes = serialization.serialize(message).get();
    return (T) serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message))
        .get();
  }

  @Test
  void messageWithoutTheMarkerIsNotJavaSerialized() {
    Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
    assertThrows(Exception.class, () -> serialization.serialize(new Forgotten("x")).get());
  }
}
