package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.actors.pool.Slot.State;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SlotTest {

  private final Slot slot = new Slot(2, false);

  private Slot ready(Slot s) {
    s.spawn("p", true);
    s.becameReady(null);
    return s;
  }

  @Test
  void eachSpawnIsTheNextGenerationNamedAfterPoolSlotAndGeneration() {
    assertEquals(State.VACANT, slot.state());
    assertFalse(slot.alive());
    assertEquals("p-2-1", slot.spawn("p", true));
    assertEquals(State.STARTING, slot.state());
    assertTrue(slot.alive());
    assertFalse(slot.ready());
    assertEquals("p-2-2", slot.spawn("p", false));
    assertEquals(State.AWAITING_SUPERVISOR, slot.state());
    assertNull(slot.worker());
  }

  @Test
  void aQueuedWorkerIsAliveStartsWhenAdmittedAndIsNeverLaunchedIfStoppedFirst() {
    slot.spawn("p", true);
    slot.queue();
    assertEquals(State.QUEUED, slot.state());
    assertTrue(slot.alive(), "the pool waits for it before it stops");
    assertFalse(slot.ready());
    slot.admit();
    assertEquals(State.STARTING, slot.state());
    assertThrows(IllegalStateException.class, slot::admit, "only a queued worker is admitted");
    slot.spawn("p", true);
    slot.queue();
    slot.stop();
    assertEquals(State.VACANT, slot.state());
    assertFalse(slot.alive());
  }

  @Test
  void aReadyWorkerTakesCallsUpToItsConcurrency() {
    ready(slot);
    assertEquals(State.READY, slot.state());
    assertTrue(slot.hasRoom(2));
    slot.callStarted();
    slot.callStarted();
    assertFalse(slot.hasRoom(2));
    slot.callEnded();
    assertTrue(slot.hasRoom(2));
    slot.callEnded();
    slot.callEnded();
    assertEquals(0, slot.inFlight(), "never below zero");
  }

  @Test
  void aDrainingWorkerIsReadyButHasNoRoom() {
    ready(slot);
    slot.drain();
    assertEquals(State.DRAINING, slot.state());
    assertTrue(slot.ready());
    assertTrue(slot.draining());
    assertFalse(slot.hasRoom(10));
  }

  @Test
  void onlyAReadyWorkerDrains() {
    slot.spawn("p", true);
    IllegalStateException e = assertThrows(IllegalStateException.class, slot::drain);
    assertTrue(e.getMessage().contains("slot 2 (worker p-2-1) cannot drain while STARTING"), e.getMessage());
  }

  @Test
  void failedStartsCountUpUntilAWorkerIsReady() {
    slot.spawn("p", true);
    assertEquals(1, slot.startFailed());
    assertEquals(State.START_FAILED, slot.state());
    assertTrue(slot.alive(), "its worker's actor has not ended yet");
    slot.ended(true);
    assertEquals(State.BACKOFF, slot.state());
    assertFalse(slot.alive());
    slot.spawn("p", true);
    assertEquals(2, slot.startFailed());
    slot.spawn("p", true);
    slot.becameReady(null);
    assertEquals(0, slot.startFailures());
  }

  @Test
  void aVacantSlotCannotFailToStartOrBecomeReady() {
    assertThrows(IllegalStateException.class, slot::startFailed);
    assertThrows(IllegalStateException.class, () -> slot.becameReady(null));
    assertThrows(IllegalStateException.class, slot::backOff);
    assertThrows(IllegalStateException.class, slot::stop);
  }

  @Test
  void crashesWithinTheTaintWindowAddUpAndOlderOnesAreForgotten() {
    Duration window = Duration.ofSeconds(10);
    assertEquals(1, slot.crashed(0, window));
    assertEquals(2, slot.crashed(Duration.ofSeconds(5).toNanos(), window));
    assertEquals(3, slot.crashed(Duration.ofSeconds(10).toNanos(), window));
    assertEquals(2, slot.crashed(Duration.ofSeconds(16).toNanos(), window));
  }

  @Test
  void aTaintedSlotBacksOffWithNoWorkerUntilItIsSpawnedAgain() {
    ready(slot);
    slot.backOff();
    assertEquals(State.BACKOFF, slot.state());
    assertFalse(slot.alive());
    slot.ended(true);
    assertEquals(State.BACKOFF, slot.state());
    slot.spawn("p", true);
    assertEquals(State.STARTING, slot.state());
  }

  @Test
  void aWorkerStoppedFromOutsideParksTheSlotOnceItsActorEnds() {
    ready(slot);
    slot.leave();
    assertEquals(State.LEAVING, slot.state());
    assertTrue(slot.alive());
    slot.ended(false);
    assertEquals(State.PARKED, slot.state());
    assertFalse(slot.alive());
    assertThrows(IllegalStateException.class, slot::leave);
  }

  @Test
  void aWorkerEndingOtherwiseLeavesTheSlotVacant() {
    ready(slot);
    slot.ended(false);
    assertEquals(State.VACANT, slot.state());
  }

  @Test
  void stoppingAWorkerNotYetAskedForLeavesNothingToWaitFor() {
    slot.spawn("p", false);
    slot.stop();
    assertEquals(State.VACANT, slot.state());
    assertFalse(slot.alive());
  }

  @Test
  void aStoppingSlotStaysStoppingWhenItsWorkerReportsReadyAndStartsNoOtherWorker() {
    slot.spawn("p", true);
    slot.stop();
    assertEquals(State.STOPPING, slot.state());
    slot.becameReady(null);
    assertEquals(State.STOPPING, slot.state());
    assertTrue(slot.alive());
    assertThrows(IllegalStateException.class, () -> slot.spawn("p", true));
    slot.ended(false);
    assertEquals(State.VACANT, slot.state());
  }

  @Test
  void aSlotTakesTheReadyWorkerOfASpare() {
    Slot spare = ready(new Slot(5, true));
    slot.spawn("p", true);
    slot.callStarted();
    slot.takeWorkerOf(spare);
    assertEquals(State.READY, slot.state());
    assertEquals("p-5-1", slot.workerId());
    assertEquals(0, slot.inFlight());
  }

  @Test
  void onlyAReadySpareGivesItsWorkerAway() {
    Slot spare = new Slot(5, true);
    spare.spawn("p", true);
    assertThrows(IllegalStateException.class, () -> slot.takeWorkerOf(spare));
  }

  @Test
  void aStartingSlotAndAReadySpareSwapWorkers() {
    Slot spare = ready(new Slot(5, true));
    slot.spawn("p", true);
    slot.swapWorkersWith(spare);
    assertEquals(State.READY, slot.state());
    assertEquals("p-5-1", slot.workerId());
    assertEquals(State.STARTING, spare.state());
    assertEquals("p-2-1", spare.workerId());
    assertThrows(IllegalStateException.class, () -> slot.swapWorkersWith(spare), "the spare is starting now");
  }
}
