package io.snakepit.actors.pool;

import io.snakepit.actors.worker.Job;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** A pool's slots (serving ones first, then spares), and which slot each worker id was started in. */
final class Slots implements Iterable<Slot> {

  private final List<Slot> slots = new ArrayList<>();
  private final Map<String, Slot> byWorker = new HashMap<>();
  private final String shortName;

  /** {@code workers} serving slots and {@code spares} spare ones, for the pool {@code pool}. */
  Slots(String pool, int workers, int spares) {
    for (int i = 0; i < workers + spares; i++) {
      slots.add(new Slot(i, i >= workers));
    }
    String safe = pool.replaceAll("[^A-Za-z0-9_.-]", "_");
    shortName = safe.length() > 24 ? safe.substring(0, 24) : safe;
  }

  @Override
  public Iterator<Slot> iterator() {
    return slots.iterator();
  }

  Slot get(int index) {
    return slots.get(index);
  }

  /** A fresh worker in {@code slot}; returns its id (pool name, slot, generation). */
  String spawn(Slot slot, boolean supervisorUp) {
    String id = slot.spawn(shortName, supervisorUp);
    byWorker.put(id, slot);
    return id;
  }

  /** The slot whose current worker is {@code workerId}, or null when that worker is not current any more. */
  Slot current(String workerId) {
    Slot slot = byWorker.get(workerId);
    return slot != null && workerId.equals(slot.workerId()) ? slot : null;
  }

  /** Forgets the worker {@code workerId}; returns its slot if it was still the slot's current worker. */
  Slot forget(String workerId) {
    Slot slot = byWorker.remove(workerId);
    return slot != null && workerId.equals(slot.workerId()) ? slot : null;
  }

  /** {@code slot} takes over the ready worker of {@code spare}, which is left to start a fresh one. */
  void giveWorker(Slot spare, Slot slot) {
    slot.takeWorkerOf(spare);
    byWorker.put(slot.workerId(), slot);
  }

  /** The starting serving slot {@code waiting} and the ready {@code spare} swap workers: the slot serves now. */
  void swapWorkers(Slot waiting, Slot spare) {
    waiting.swapWorkersWith(spare);
    byWorker.put(waiting.workerId(), waiting);
    byWorker.put(spare.workerId(), spare);
  }

  boolean allReady() {
    return slots.stream().allMatch(Slot::ready);
  }

  boolean noneAlive() {
    return slots.stream().noneMatch(Slot::alive);
  }

  /** Whether no serving slot has a ready worker. */
  boolean noServingWorker() {
    return slots.stream().noneMatch(s -> s.ready() && !s.spare);
  }

  /** A spare whose worker is ready to take a serving slot's place, or null. */
  Slot readySpare() {
    return slots.stream().filter(s -> s.spare && s.state() == Slot.State.READY && s.worker() != null)
        .findFirst().orElse(null);
  }

  /** A serving slot whose worker is still starting (not one waiting out a backoff), or null. */
  Slot startingServingSlot() {
    return slots.stream().filter(s -> !s.spare && s.state() == Slot.State.STARTING).findFirst().orElse(null);
  }

  /** Hands every strict-queue call waiting for a slot to {@code action}, and forgets them. */
  void drainPending(Consumer<Job> action) {
    for (Slot slot : slots) {
      slot.pending.forEach(action);
      slot.pending.clear();
    }
  }
}
