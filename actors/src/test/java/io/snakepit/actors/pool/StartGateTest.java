package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StartGateTest {

  private final StartGate gate = new StartGate(2);
  private final Slots slots = new Slots("p", 5, 0);

  /** A fresh worker in slot {@code i}: started if the gate lets it, else queued; returns its id. */
  private String spawn(int i) {
    Slot slot = slots.get(i);
    String id = slots.spawn(slot, true);
    if (!gate.enter(id)) {
      slot.queue();
      gate.await(slot, id);
    }
    return id;
  }

  @Test
  void atMostTheLimitStartAtOnceAndTheRestGoInTheirOrder() {
    for (int i = 0; i < 5; i++) {
      spawn(i);
    }
    assertEquals(2, gate.starting());
    assertEquals(Slot.State.STARTING, slots.get(1).state());
    assertEquals(Slot.State.QUEUED, slots.get(2).state());
    assertNull(gate.next(), "no room while two start");
    assertTrue(gate.leave("p-0-1"));
    assertSame(slots.get(2), gate.next());
    assertNull(gate.next());
    assertTrue(gate.leave("p-1-1"));
    assertSame(slots.get(3), gate.next());
    assertEquals(2, gate.starting());
  }

  @Test
  void aWorkerFreesItsPlaceOnceWhicheverWayItStopsStarting() {
    spawn(0);
    assertTrue(gate.leave("p-0-1"));
    assertFalse(gate.leave("p-0-1"), "ready, then ended: its place was freed already");
    assertFalse(gate.leave("unknown"));
    assertEquals(0, gate.starting());
  }

  @Test
  void aNewWorkerWaitsBehindThoseQueuedEvenWhenAPlaceIsFree() {
    spawn(0);
    spawn(1);
    spawn(2);
    gate.leave("p-0-1");
    assertFalse(gate.enter("p-3-1"), "slot 2 came first");
    assertSame(slots.get(2), gate.next());
  }

  @Test
  void aSlotStoppedOrRespawnedWhileQueuedIsPassedOver() {
    spawn(0);
    spawn(1);
    spawn(2);
    spawn(3);
    slots.get(2).stop();
    assertEquals(Slot.State.VACANT, slots.get(2).state(), "a queued worker was never launched: nothing to stop");
    gate.leave("p-0-1");
    assertSame(slots.get(3), gate.next());
    Slot again = slots.get(2);
    String second = slots.spawn(again, true);
    again.queue();
    gate.await(again, second);
    gate.leave("p-1-1");
    assertSame(again, gate.next(), "its new worker waits at the back; the stale entry was dropped");
    assertEquals("p-2-2", again.workerId());
  }

  @Test
  void aLimitBelowOneIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new StartGate(0));
  }
}
