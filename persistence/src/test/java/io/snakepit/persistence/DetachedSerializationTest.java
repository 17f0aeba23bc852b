package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.SerializerWithStringManifest;
import akka.serialization.jackson.JacksonObjectMapperProvider;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.shim.WorkerIdentity;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** A planned restart's record in the journal: the Detached event, and entries of snapshots written before it. */
class DetachedSerializationTest {
  private static final ActorTestKit KIT = ActorTestKit.create("detached-serialization");
  private static final SpawnedWorker SPAWNED = new SpawnedWorker(
      new WorkerIdentity(4321, 1234, 987654L, "boot-1", 1234, 987650L), "/run/w.sock");

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  private static Object roundTrip(Object value, byte[] bytes) {
    Serialization serialization = SerializationExtension.get(KIT.system());
    Serializer serializer = serialization.findSerializerFor(value);
    String manifest = serializer instanceof SerializerWithStringManifest s ? s.manifest(value) : "";
    return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
  }

  @Test
  void aDetachedEventAndAnEntryThatCarriesItReadBack() {
    WorkerRegistry.Detached event = new WorkerRegistry.Detached("n1", "/run/snakepit/w-0-1.ctl", 1_700_000_060_000L);
    assertEquals(event, roundTrip(event, SerializationExtension.get(KIT.system()).serialize(event).get()));
    RegistryEntry entry = new RegistryEntry("n1", "w-0-1", "inc", 1L, "boot-1", List.of(), SPAWNED, null,
        new RegistryEntry.Detachment("/run/snakepit/w-0-1.ctl", 1_700_000_060_000L));
    WorkerRegistry.State state = new WorkerRegistry.State(Map.of("n1", entry), 3);
    assertEquals(state, roundTrip(state, SerializationExtension.get(KIT.system()).serialize(state).get()));
  }

  @Test
  void anEntryOfASnapshotWrittenBeforeDetachmentsReadsBackAsNotDetached() throws Exception {
    Map<String, Object> old = new LinkedHashMap<>();
    old.put("nonce", "n1");
    old.put("workerId", "w-0-1");
    old.put("incarnation", "inc");
    old.put("reservedAt", 1L);
    old.put("bootId", "boot-1");
    old.put("cgroups", List.of());
    old.put("spawned", null);
    old.put("exitStatus", null);
    ObjectMapper cbor = JacksonObjectMapperProvider.get(KIT.system()).getOrCreate("jackson-cbor", Optional.empty());
    byte[] bytes = cbor.writeValueAsBytes(Map.of("open", Map.of("n1", old), "incarnations", 3));
    WorkerRegistry.State expected = new WorkerRegistry.State(Map.of("n1",
        new RegistryEntry("n1", "w-0-1", "inc", 1L, "boot-1", List.of(), null, null)), 3);
    WorkerRegistry.State read = (WorkerRegistry.State) roundTrip(expected, bytes);
    assertEquals(expected, read);
    assertNull(read.open().get("n1").detached());
  }
}
