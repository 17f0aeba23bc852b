package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.SerializerWithStringManifest;
import akka.serialization.jackson.JacksonObjectMapperProvider;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.shim.WorkerIdentity;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Journals keep working across the change of SpawnedWorker's shape: both shapes read back as the same worker. */
class SpawnedWorkerSerializationTest {
  private static final ActorTestKit KIT = ActorTestKit.create("serialization");
  private static final WorkerIdentity IDENTITY = new WorkerIdentity(4321, 1234, 987654L, "boot-1", 1234, 987650L);

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  private static Object roundTrip(Object event, byte[] bytes) {
    Serialization serialization = SerializationExtension.get(KIT.system());
    Serializer serializer = serialization.findSerializerFor(event);
    String manifest = serializer instanceof SerializerWithStringManifest s ? s.manifest(event) : "";
    return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
  }

  @Test
  void aSpawnedEventOfThisShapeReadsBack() {
    WorkerRegistry.Spawned event = new WorkerRegistry.Spawned("n1", new SpawnedWorker(IDENTITY, "/run/w.sock"));
    byte[] bytes = SerializationExtension.get(KIT.system()).serialize(event).get();
    assertEquals(event, roundTrip(event, bytes));
  }

  @Test
  void aSpawnedEventWrittenWithTheIdentityInlineReadsBackAsTheSameWorker() throws Exception {
    // The shape journals written before SpawnedWorker held a WorkerIdentity: its fields inline, and a cgroup.
    Map<String, Object> old = new LinkedHashMap<>();
    old.put("shimPid", 1234);
    old.put("shimStartTime", 987650L);
    old.put("pid", 4321);
    old.put("pgid", 1234);
    old.put("startTime", 987654L);
    old.put("bootId", "boot-1");
    old.put("socket", "/run/w.sock");
    old.put("cgroup", "");
    ObjectMapper cbor = JacksonObjectMapperProvider.get(KIT.system()).getOrCreate("jackson-cbor", Optional.empty());
    byte[] bytes = cbor.writeValueAsBytes(Map.of("nonce", "n1", "spawned", old));
    WorkerRegistry.Spawned expected = new WorkerRegistry.Spawned("n1", new SpawnedWorker(IDENTITY, "/run/w.sock"));
    assertEquals(expected, roundTrip(expected, bytes));
  }
}
