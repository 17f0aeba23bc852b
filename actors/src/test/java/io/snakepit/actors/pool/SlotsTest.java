package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SlotsTest {

  private final Slots slots = new Slots("my pool/with:odd*chars-and-a-long-name", 2, 1);

  @Test
  void servingSlotsComeFirstThenSpares() {
    assertFalse(slots.get(0).spare);
    assertFalse(slots.get(1).spare);
    assertTrue(slots.get(2).spare);
  }

  @Test
  void workerIdsUseASafeShortPoolName() {
    assertEquals("my_pool_with_odd_chars-a-0-1", slots.spawn(slots.get(0), true));
  }

  @Test
  void onlyTheCurrentWorkerOfASlotIsFound() {
    Slot slot = slots.get(0);
    String first = slots.spawn(slot, true);
    assertSame(slot, slots.current(first));
    String second = slots.spawn(slot, true);
    assertNull(slots.current(first), "an earlier generation is not current");
    assertSame(slot, slots.current(second));
    assertNull(slots.forget(first));
    assertSame(slot, slots.forget(second));
    assertNull(slots.current(second));
    assertNull(slots.current("unknown"));
  }

  @Test
  void readinessAndLivenessAcrossSlots() {
    assertTrue(slots.noneAlive());
    assertTrue(slots.noServingWorker());
    slots.forEach(s -> slots.spawn(s, true));
    assertFalse(slots.noneAlive());
    slots.get(2).becameReady(null);
    assertTrue(slots.noServingWorker(), "a ready spare serves no calls");
    assertFalse(slots.allReady());
    slots.get(0).becameReady(null);
    slots.get(1).becameReady(null);
    assertFalse(slots.noServingWorker());
    assertTrue(slots.allReady());
  }

  @Test
  void aSpareTakesOverOnlyWhenReadyAndOnlyAServingSlotStillStarting() {
    slots.forEach(s -> slots.spawn(s, true));
    assertNull(slots.readySpare());
    assertSame(slots.get(0), slots.startingServingSlot());
    slots.get(2).becameReady(null);
    assertNull(slots.readySpare(), "its actor is not known yet");
    slots.get(2).attach(Refs.worker("spare"));
    assertSame(slots.get(2), slots.readySpare());
    slots.get(0).startFailed();
    assertSame(slots.get(1), slots.startingServingSlot(), "a slot whose start failed waits out its backoff");
    slots.get(1).becameReady(null);
    assertNull(slots.startingServingSlot());
  }

  @Test
  void aSlotThatTookASparesWorkerIsFoundByThatWorkersId() {
    slots.forEach(s -> slots.spawn(s, true));
    Slot spare = slots.get(2);
    spare.becameReady(null);
    String spareWorker = spare.workerId();
    slots.giveWorker(spare, slots.get(0));
    assertSame(slots.get(0), slots.current(spareWorker));
  }

  @Test
  void afterASwapEachWorkerIdFindsItsNewSlot() {
    slots.forEach(s -> slots.spawn(s, true));
    Slot spare = slots.get(2);
    spare.becameReady(null);
    String ready = spare.workerId();
    String starting = slots.get(1).workerId();
    slots.swapWorkers(slots.get(1), spare);
    assertSame(slots.get(1), slots.current(ready));
    assertSame(spare, slots.current(starting));
    assertEquals(Slot.State.READY, slots.get(1).state());
    assertEquals(Slot.State.STARTING, spare.state());
  }
}
