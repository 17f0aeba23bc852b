package io.snakepit.actors.pool;

import io.snakepit.actors.worker.Job;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A pool's slots (serving ones and spares; a resize adds serving slots at the end and removes retired ones), and
 * which slot each worker id was started in. A slot's index is never reused, so a worker id names one slot for good.
 */
final class Slots implements Iterable<Slot> {

  private final List<Slot> slots = new ArrayList<>();
  private final Map<String, Slot> byWorker = new HashMap<>();
  private final String shortName;
  private int nextIndex;

  /** {@code workers} serving slots and {@code spares} spare ones, for the pool {@code pool}. */
  Slots(String pool, int workers, int spares) {
    for (int i = 0; i < workers + spares; i++) {
      slots.add(new Slot(nextIndex++, i >= workers));
    }
    String safe = pool.replaceAll("[^A-Za-z0-9_.-]", "_");
    shortName = safe.length() > 24 ? safe.substring(0, 24) : safe;
  }

  @Override
  public Iterator<Slot> iterator() {
    return slots.iterator();
  }

  /** The slot with this index, or null if it was removed (retired by a resize). */
  Slot get(int index) {
    for (Slot slot : slots) {
      if (slot.index == index) {
        return slot;
      }
    }
    return null;
  }

  /** A new serving slot, vacant, at the end. */
  Slot add() {
    Slot slot = new Slot(nextIndex++, false);
    slots.add(slot);
    return slot;
  }

  /** Removes a retired slot whose worker has ended (or that never had one). */
  void remove(Slot slot) {
    if (slot.alive() || !slot.retiring()) {
      throw new IllegalStateException("slot " + slot.index + " (" + slot.state() + ") cannot be removed: only a"
          + " retired slot without a worker can; report this as a bug");
    }
    slots.remove(slot);
  }

  /** The slots whose worker is ready (serving, spare or retiring), in order: the health rounds tick them. */
  List<Slot> withReadyWorker() {
    return slots.stream().filter(s -> s.ready() && s.worker() != null).toList();
  }

  /** How many serving slots the pool keeps (retiring ones not counted). */
  int serving() {
    return (int) slots.stream().filter(s -> !s.spare && !s.retiring()).count();
  }

  /** How many serving slots (retiring ones not counted) have a ready worker. */
  int servingReady() {
    return (int) slots.stream().filter(s -> !s.spare && !s.retiring() && s.ready()).count();
  }

  /** Whether the last resize is done: no slot is retiring, and every serving slot's worker is ready. */
  boolean resized() {
    return slots.stream().noneMatch(Slot::retiring) && servingReady() == serving();
  }

  /**
   * The {@code count} serving slots a shrink retires: those that cost least to give up first (no worker, then
   * waiting to start, starting, idle, busy), the newest first among equals.
   */
  List<Slot> toRetire(int count) {
    return slots.stream().filter(s -> !s.spare && !s.retiring())
        .sorted(java.util.Comparator.comparingInt(Slots::retireCost)
            .thenComparing(java.util.Comparator.comparingInt((Slot s) -> s.index).reversed()))
        .limit(count).toList();
  }

  private static int retireCost(Slot slot) {
    return switch (slot.state()) {
      case VACANT, BACKOFF, PARKED -> 0;
      case QUEUED, AWAITING_SUPERVISOR -> 1;
      case START_FAILED, STARTING, LEAVING, STOPPING -> 2;
      case READY -> slot.inFlight() == 0 ? 3 : 4;
      case DRAINING -> 5;
    };
  }

  /** A fresh worker in {@code slot}; returns its id (pool name, slot, generation). */
  String spawn(Slot slot, boolean supervisorUp) {
    String id = slot.spawn(shortName, supervisorUp);
    byWorker.put(id, slot);
    return id;
  }

  /** An adopted worker, {@code workerId}, in {@code slot}. */
  void adopt(Slot slot, String workerId, int generation) {
    slot.adopt(workerId, generation);
    byWorker.put(workerId, slot);
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

  /** Whether every slot's worker is ready (retiring slots do not count: they are on their way out). */
  boolean allReady() {
    return slots.stream().allMatch(s -> s.ready() || s.retiring());
  }

  boolean noneAlive() {
    return slots.stream().noneMatch(Slot::alive);
  }

  /** Whether no serving slot has a ready worker. */
  boolean noServingWorker() {
    return slots.stream().noneMatch(s -> s.ready() && !s.spare && !s.retiring());
  }

  /** A spare whose worker is ready to take a serving slot's place, or null. */
  Slot readySpare() {
    return slots.stream().filter(s -> s.spare && s.state() == Slot.State.READY && s.worker() != null)
        .findFirst().orElse(null);
  }

  /** A serving slot whose worker is still starting (not one waiting out a backoff), or null. */
  Slot startingServingSlot() {
    return slots.stream().filter(s -> !s.spare && !s.retiring() && s.state() == Slot.State.STARTING).findFirst()
        .orElse(null);
  }

  /** Hands every strict-queue call waiting for a slot to {@code action}, and forgets them. */
  void drainPending(Consumer<Job> action) {
    for (Slot slot : slots) {
      slot.pending.forEach(action);
      slot.pending.clear();
    }
  }
}
