package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Every stop deadline follows from the stop grace and the named margins, in order. */
class StopTimelineTest {

  @Test
  void theDeadlinesFollowTheGraceInOrder() {
    StopTimeline t = new StopTimeline(Duration.ofSeconds(2));
    assertEquals(Duration.ofMillis(3500), t.shimGrace());
    assertEquals(Duration.ofMillis(4500), t.killShimAfter());
    assertEquals(Duration.ofMillis(5500), t.workerShutdown());
    assertEquals(Duration.ofMillis(6000), t.poolShutdown());
    assertEquals(Duration.ofMillis(7000), t.nodeStop());
    assertTrue(StopTimeline.TRANSPORT_GRACE.compareTo(Duration.ZERO) > 0);
  }

  @Test
  void thePoolsStopLeavesASecondOfTheNodesStopForTheJournal() {
    for (long grace : new long[] {0, 2_000, 30_000}) {
      StopTimeline t = new StopTimeline(Duration.ofMillis(grace));
      assertTrue(t.poolShutdown().plus(Duration.ofSeconds(1)).compareTo(t.nodeStop()) <= 0, t.toString());
    }
  }

  @Test
  void theSupervisorWaitsForTheWorkerToGiveUpOnItsShim() {
    StopTimeline t = new StopTimeline(Duration.ZERO);
    assertEquals(StopTimeline.SHIM_MARGIN.plus(StopTimeline.KILL_MARGIN).plus(StopTimeline.SWEEP_MARGIN),
        t.workerShutdown());
  }
}
