package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/** The stream window of a clustered node: 16 by default, and a window that could not pace a stream is refused. */
class StreamWindowTest {
  @Test
  void referenceConfSetsAWindowOf16() {
    assertEquals(16, ClusterPools.streamWindow(ConfigFactory.defaultReference().getInt(ClusterPools.STREAM_WINDOW)));
  }

  @Test
  void aWindowBelowTwoIsRefusedNamingTheSettingAndTheFix() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterPools.streamWindow(1));
    assertTrue(e.getMessage().startsWith("snakepit.cluster.stream-window is 1") && e.getMessage().contains("2 or more"),
        e.getMessage());
    assertEquals(2, ClusterPools.streamWindow(2));
  }
}
