package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class OrphanPolicyTest {

  @Test
  void defaultTiersTerminateYoungOrphansGentlyAndKillOldOnesAtOnce() {
    OrphanPolicy p = OrphanPolicy.fromConfig(ConfigFactory.load().getConfig("snakepit.registry"));
    assertEquals(new OrphanPolicy.Tier(Duration.ofMinutes(5), OrphanPolicy.Action.TERMINATE, Duration.ofSeconds(5)),
        p.forAge(Duration.ofMinutes(4)));
    assertEquals(Duration.ofSeconds(30), p.forAge(Duration.ofMinutes(5)).grace());
    assertEquals(OrphanPolicy.Action.KILL, p.forAge(Duration.ofHours(2)).action());
  }

  @Test
  void anUnknownActionIsNamedWithTheChoices() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OrphanPolicy.fromConfig(
        ConfigFactory.parseString("orphan-policy = [{ younger-than = 1m, action = nuke }]")));
    assertTrue(e.getMessage().contains("'nuke'") && e.getMessage().contains("watch, terminate or kill"),
        e.getMessage());
  }
}
