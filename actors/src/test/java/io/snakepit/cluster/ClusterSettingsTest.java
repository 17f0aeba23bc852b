package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClusterSettingsTest {
  private static Config snakepit(String hocon) {
    return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve()
        .getConfig("snakepit");
  }

  @Test
  void withoutAPortTheNodeRunsAlone() {
    assertEquals(Optional.empty(), ClusterSettings.fromConfig(snakepit("")));
    // reference.conf leaves the provider local: nothing of the cluster starts.
    assertEquals("local", ConfigFactory.load().getString("akka.actor.provider"));
  }

  @Test
  void portHostAndSeedsMakeTheAkkaSettings() {
    ClusterSettings c = ClusterSettings.fromConfig(snakepit("snakepit.cluster { port = 25531, host = \"127.0.0.2\","
        + " seeds = [\"127.0.0.2:25531\", \"[::1]:25532\"], join-timeout = 5s }")).orElseThrow();
    assertEquals(List.of(new ClusterSettings.Seed("127.0.0.2", 25531), new ClusterSettings.Seed("::1", 25532)),
        c.seeds());
    assertEquals(Duration.ofSeconds(5), c.joinTimeout());
    Config akka = c.over(ConfigFactory.load(), "snakepit");
    assertEquals("cluster", akka.getString("akka.actor.provider"));
    assertEquals("tcp", akka.getString("akka.remote.artery.transport"));
    assertEquals("127.0.0.2", akka.getString("akka.remote.artery.canonical.hostname"));
    assertEquals(25531, akka.getInt("akka.remote.artery.canonical.port"));
    assertEquals(List.of("akka://snakepit@127.0.0.2:25531", "akka://snakepit@[::1]:25532"),
        akka.getStringList("akka.cluster.seed-nodes"));
    assertFalse(akka.getBoolean("akka.actor.allow-java-serialization"));
    assertEquals("akka.cluster.sbr.SplitBrainResolverProvider",
        akka.getString("akka.cluster.downing-provider-class"));
    assertEquals("keep-majority", akka.getString("akka.cluster.split-brain-resolver.active-strategy"));
    assertEquals("jackson-cbor",
        akka.getString("akka.actor.serialization-bindings.\"io.snakepit.cluster.ClusterMessage\""));
  }

  @Test
  void badInputNamesTheFlagAndTheFix() {
    String port = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit("snakepit.cluster { port = 70000, seeds = [\"127.0.0.1:25520\"] }"))).getMessage();
    assertTrue(port.contains("--cluster-port") && port.contains("70000") && port.contains("1 to 65535"), port);
    String word = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit("snakepit.cluster { port = abc, seeds = [\"127.0.0.1:25520\"] }"))).getMessage();
    assertTrue(word.contains("--cluster-port") && word.contains("'abc'"), word);
    String seed = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit("snakepit.cluster { port = 25520, seeds = [\"node1\"] }"))).getMessage();
    assertTrue(seed.contains("--seed") && seed.contains("'node1'") && seed.contains("HOST:PORT"), seed);
    String noSeeds = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit("snakepit.cluster { port = 25520 }"))).getMessage();
    assertTrue(noSeeds.contains("--seed") && noSeeds.contains("--seed 127.0.0.1:25520"), noSeeds);
    String noPort = assertThrows(IllegalArgumentException.class, () -> ClusterSettings.fromConfig(
        snakepit("snakepit.cluster { seeds = [\"127.0.0.1:25520\"] }"))).getMessage();
    assertTrue(noPort.contains("--cluster-port"), noPort);
  }

  @Test
  void aHostOtherHostsReachIsRefusedUnlessInsecure() {
    ClusterSettings open = ClusterSettings.fromConfig(snakepit("snakepit.cluster { port = 25520, host = \"10.1.2.3\","
        + " seeds = [\"10.1.2.3:25520\"] }")).orElseThrow();
    assertNotNull(open.refusal());
    assertTrue(open.refusal().contains("--insecure"), open.refusal());
    assertNull(open.withInsecure(true).refusal());
    assertNotNull(open.withInsecure(true).warning());
    ClusterSettings local = ClusterSettings.fromConfig(snakepit("snakepit.cluster { port = 25520,"
        + " seeds = [\"127.0.0.1:25520\"] }")).orElseThrow();
    assertNull(local.refusal());
    assertNull(local.warning());
  }
}
