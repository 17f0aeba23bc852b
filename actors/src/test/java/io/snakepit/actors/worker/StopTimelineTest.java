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
    assertEquals(Duration.ofMillis(6500), t.killShimAfter());
    assertEquals(Duration.ofMillis(8500), t.workerShutdown());
    assertEquals(Duration.ofMillis(13500), t.poolShutdown());
    assertTrue(StopTimeline.TRANSPORT_GRACE.compareTo(Duration.ZERO) > 0);
  }

  @Test
  void theSupervisorWaitsForTheWorkerToGiveUpOnItsShim() {
    StopTimeline t = new StopTimeline(Duration.ZERO);
    assertEquals(StopTimeline.SHIM_MARGIN.plus(StopTimeline.KILL_MARGIN).plus(StopTimeline.SWEEP_MARGIN),
        t.workerShutdown());
  }
}
