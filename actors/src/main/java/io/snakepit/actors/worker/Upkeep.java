package io.snakepit.actors.worker;

import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * A ready worker's upkeep: the pings it missed in a row, and when it is due for recycling (calls served, age, the
 * resident memory of its Python process). Each answer that needs an action says so once. Used on the actor's thread,
 * and by its {@link WorkerPort} when a call ends there: each method is atomic.
 */
final class Upkeep {
  private final WorkerSettings.Health health;
  private final WorkerSettings.Recycle recycle;
  private final long readyAt;
  private final LongSupplier residentBytes;
  private long callsDone;
  private int pingsMissed;
  private boolean pingInFlight;
  /** Whether the worker answered a call since the last health tick: that tick sends no ping. */
  private boolean answeredSinceTick;
  private boolean recycleDue;
  private boolean unresponsive;

  /**
   * @param readyAt when the worker became ready (System.nanoTime)
   * @param residentBytes reads the resident memory of the worker's Python process
   */
  Upkeep(WorkerSettings.Health health, WorkerSettings.Recycle recycle, long readyAt, LongSupplier residentBytes) {
    this.health = health;
    this.recycle = recycle;
    this.readyAt = readyAt;
    this.residentBytes = residentBytes;
  }

  /**
   * At a health tick: whether a ping goes now. None does while one is unanswered, nor when the worker answered a
   * call since the last tick (that shows as much as a ping would, and a busy pool then sends none).
   */
  synchronized boolean startPing() {
    if (pingInFlight) {
      return false;
    }
    if (answeredSinceTick) {
      answeredSinceTick = false;
      return false;
    }
    pingInFlight = true;
    return true;
  }

  /** Records a ping's answer; true when the worker missed too many in a row and is to be killed now. */
  synchronized boolean pingAnswered(boolean ok) {
    pingInFlight = false;
    if (ok) {
      pingsMissed = 0;
      return false;
    }
    pingsMissed++;
    if (pingsMissed >= health.maxMissed() && !unresponsive) {
      unresponsive = true;
      return true;
    }
    return false;
  }

  synchronized int pingsMissed() {
    return pingsMissed;
  }

  /** Whether it was killed for missed pings (its death then says nothing about the calls it ran). */
  synchronized boolean unresponsive() {
    return unresponsive;
  }

  /**
   * A call ended, {@code answered} by the worker (its result or the tool's exception, not a transport error or a
   * deadline); the reason the worker is now due for recycling, the first time it is.
   */
  synchronized Optional<String> callDone(boolean answered) {
    if (answered) {
      answeredSinceTick = true;
      pingsMissed = 0;
    }
    callsDone++;
    if (recycle.maxCalls() > 0 && callsDone >= recycle.maxCalls()) {
      Optional<String> due = due("served " + callsDone + " calls (recycle.max-calls " + recycle.maxCalls() + ")");
      if (due.isPresent()) {
        return due;
      }
    }
    return memory();
  }

  /** The periodic check at {@code now} (System.nanoTime): age and memory. */
  synchronized Optional<String> tick(long now) {
    Duration ttl = recycle.ttl();
    if (!ttl.isZero() && now - readyAt >= ttl.toNanos()) {
      Optional<String> due = due("older than recycle.ttl " + ttl.toSeconds() + " s");
      if (due.isPresent()) {
        return due;
      }
    }
    return memory();
  }

  /** Recycling asked for from outside (the node's health evaluation): {@code reason}, unless it is due already. */
  synchronized Optional<String> asked(String reason) {
    return due(reason);
  }

  /** Whether an ended call reads the Python process's memory (recycle.max-rss is set): not on the calls socket's thread. */
  boolean readsMemoryPerCall() {
    return recycle.maxRssBytes() > 0;
  }

  /** Whether the periodic check is needed at all (a time to live or a memory bound is set). */
  boolean ticks() {
    return !recycle.ttl().isZero() || recycle.maxRssBytes() > 0;
  }

  private Optional<String> memory() {
    long limit = recycle.maxRssBytes();
    if (limit > 0 && !recycleDue) {
      long rss = residentBytes.getAsLong();
      if (rss > limit) {
        return due("resident memory " + (rss >> 20) + " MiB over recycle.max-rss " + (limit >> 20) + " MiB");
      }
    }
    return Optional.empty();
  }

  /** Whether its worker is due for replacement (the pool may not have heard yet). */
  synchronized boolean recycleDue() {
    return recycleDue;
  }

  private Optional<String> due(String reason) {
    if (recycleDue) {
      return Optional.empty();
    }
    recycleDue = true;
    return Optional.of(reason);
  }
}
