package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.Affinity;
import org.junit.jupiter.api.Test;

/** The gateway's snakepit-affinity header: the three affinities by their names, strict-queue when absent. */
class GatewaySessionTest {
  @Test
  void affinityHeaderNamesTheThreeModes() {
    assertEquals(Affinity.HINT, GatewaySession.affinity("hint"));
    assertEquals(Affinity.STRICT_QUEUE, GatewaySession.affinity("strict-queue"));
    assertEquals(Affinity.STRICT_FAIL_FAST, GatewaySession.affinity("STRICT_FAIL_FAST"));
    assertEquals(Affinity.STRICT_QUEUE, GatewaySession.affinity(null));
    assertEquals(Affinity.STRICT_QUEUE, GatewaySession.affinity(""));
  }

  @Test
  void anUnknownAffinityIsRefusedNamingTheHeaderAndTheModes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> GatewaySession.affinity("sticky"));
    assertTrue(e.getMessage().contains("snakepit-affinity = 'sticky'") && e.getMessage().contains("strict-fail-fast"),
        e.getMessage());
  }
}
