package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlacementTest {
  private static PoolLoad load(int inFlight, int capacity) {
    return new PoolLoad(inFlight, capacity, 1 << 20);
  }

  @Test
  void localPoolWithAnIdleWorkerIsChosenOverIdlerRemoteNodes() {
    assertEquals(0, Placement.choose(true, List.of(load(3, 4), load(0, 4), load(0, 8)), 0));
  }

  @Test
  void busyLocalPoolLosesToTheLeastLoadedNodePerUnitOfCapacity() {
    assertEquals(2, Placement.choose(true, List.of(load(2, 2), load(3, 4), load(2, 8)), 0));
  }

  @Test
  void busyLocalPoolWinsATie() {
    assertEquals(0, Placement.choose(true, List.of(load(2, 2), load(2, 2)), 1));
  }

  @Test
  void tiedRemoteNodesTakeTurns() {
    Set<Integer> seen = new HashSet<>();
    for (long turn = 0; turn < 4; turn++) {
      seen.add(Placement.choose(false, List.of(load(1, 1), load(5, 1), load(1, 1)), turn));
    }
    assertEquals(Set.of(0, 2), seen);
  }

  @Test
  void noCandidateIsNone() {
    assertEquals(Placement.NONE, Placement.choose(false, List.of(), 0));
  }

  @Test
  void aNodeOfNoCapacityCountsAsOne() {
    assertEquals(1, Placement.choose(false, List.of(load(2, 0), load(1, 0)), 0));
  }
}
