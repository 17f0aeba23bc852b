package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;
import io.snakepit.actors.worker.WorkerSettings;
import org.junit.jupiter.api.Test;

class PoolSettingsTest {

  private static Config snakepit(String... layers) {
    Config c = ConfigFactory.empty();
    for (String layer : layers) {
      c = c.withFallback(ConfigFactory.parseString(layer)); // the first layer wins, as in an application.conf stack
    }
    return ConfigFactory.load(c).getConfig("snakepit");
  }

  @Test
  void referenceConfDefinesNoPool() {
    assertTrue(ConfigFactory.load().getObject("snakepit.pools").isEmpty());
  }

  @Test
  void aPoolBlockIsMergedOverPoolDefaultsKeyByKey() {
    PoolSettings s = PoolSettings.fromConfig("p", snakepit("snakepit.pools.p { workers = 3, adapter = \"a:B\","
        + " health.interval = 1s }"));
    assertEquals(3, s.workers());
    assertEquals(1000, s.queueCapacity());
    assertEquals("a:B", s.worker().adapter());
    assertEquals(1, s.worker().health().interval().toSeconds());
    assertEquals(2, s.worker().health().timeout().toSeconds()); // from pool-defaults.health
  }

  @Test
  void aPoolTakenBackWithNullAndDefinedAgainGetsTheDefaults() {
    // One layer nulls the pool, a later one defines it again: the block must still take pool-defaults' keys
    // (it failed with "No configuration setting found for key 'queue-capacity'", later 'spares').
    Config c = snakepit("snakepit.pools.default { workers = 1, adapter = \"a:B\", isolation.rlimits.open-files = 64 }",
        "snakepit.pools.default = null");
    PoolSettings s = PoolSettings.fromConfig("default", c);
    assertEquals(1, s.workers());
    assertEquals(0, s.spares());
    assertEquals(1000, s.queueCapacity());
    assertEquals("python3", s.worker().python());
    assertEquals("64", s.worker().isolation().rlimits().get("nofile")); // a nested key of the block
  }

  @Test
  void aPoolSetToNullIsNull() {
    Config c = snakepit("snakepit.pools.default = null", "snakepit.pools.default { workers = 1 }");
    assertEquals(ConfigValueType.NULL, c.getObject("pools").get("default").valueType());
  }

  @Test
  void aPoolWithoutAnAdapterIsRefusedWithTheFix() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PoolSettings.fromConfig("mine", snakepit("snakepit.pools.mine { workers = 1 }")));
    assertTrue(e.getMessage().startsWith("snakepit.pools.mine.adapter is not set")
        && e.getMessage().contains("snakepit.pools.mine { adapter = "), e.getMessage());
  }

  @Test
  void callsAreMultiplexedUnlessAPoolAsksForAnRpcPerCall() {
    assertEquals(WorkerSettings.CallChannel.MULTIPLEXED,
        PoolSettings.fromConfig("p", snakepit("snakepit.pools.p.adapter = \"a:B\"")).worker().callChannel());
    assertEquals(WorkerSettings.CallChannel.UNARY, PoolSettings.fromConfig("p",
        snakepit("snakepit.pools.p { adapter = \"a:B\", call-channel = unary }")).worker().callChannel());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PoolSettings.fromConfig("p",
        snakepit("snakepit.pools.p { adapter = \"a:B\", call-channel = stream }")));
    assertTrue(e.getMessage().contains("call-channel is 'stream'") && e.getMessage().contains("unary"),
        e.getMessage());
  }
}
