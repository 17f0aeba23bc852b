package io.snakepit.actors.pool;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.pool.PoolActor.Abort;
import io.snakepit.actors.pool.PoolActor.AwaitReady;
import io.snakepit.actors.pool.PoolActor.Begin;
import io.snakepit.actors.pool.PoolActor.Command;
import io.snakepit.actors.pool.PoolActor.Resize;
import io.snakepit.actors.pool.PoolActor.Respawn;
import io.snakepit.actors.pool.PoolActor.WorkerGone;
import io.snakepit.actors.pool.PoolActor.WorkersUp;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.time.Instant;

/**
 * A pool that runs: every worker has been ready once. A worker that ends, is due for recycling or fails to start
 * again is replaced (by a ready spare when there is one), with backoff where its slot keeps failing.
 */
final class RunningPhase {
  private final Coordinator c;

  RunningPhase(Coordinator coordinator) {
    this.c = coordinator;
  }

  /** Every worker is ready: those who waited for the start learn it. */
  Behavior<Command> begin() {
    c.context.getLog().info("pool '{}' ready: {} workers, {} spares", c.settings.name(), c.slots.serving(),
        c.settings.spares());
    c.events.publish(new SnakepitEvent.PoolReady(Instant.now(), c.events.instance(), c.settings.name(),
        c.slots.serving(), c.settings.spares()));
    c.readyWaiters.forEach(p -> p.complete(null));
    c.readyWaiters.clear();
    return running();
  }

  private Behavior<Command> running() {
    return c.receiveCalls(this::react)
        .onMessage(Respawn.class, this::onRespawn)
        .onMessage(AwaitReady.class, msg -> {
          msg.promise().complete(null);
          return Behaviors.same();
        })
        .onMessage(WorkersUp.class, msg -> c.onWorkersUp(msg, true))
        .onMessage(WorkerGone.class, msg -> c.onWorkerGone(msg, true))
        .onMessageEquals(Begin.INSTANCE, Behaviors::same)
        .onMessage(Abort.class, msg -> Behaviors.same())
        .onMessage(Resize.class, msg -> c.onResize(msg, true))
        .build();
  }

  private Behavior<Command> react(Slot slot, WorkerActor.Event event) {
    if (event instanceof WorkerActor.Ready) {
      if (!slot.spare) {
        c.dispatch.offer(slot);
      } else {
        takeOverAStart(slot);
      }
    } else if (event instanceof WorkerActor.Idle) {
      if (slot.draining()) {
        replaceIfDrained(slot);
      } else if (slot.ready()) {
        c.dispatch.offer(slot);
      }
    } else if (event instanceof WorkerActor.RecycleDue) {
      if (slot.state() == Slot.State.READY) {
        slot.drain();
        c.dispatch.withdraw(slot);
        replaceIfDrained(slot);
      }
    } else if (event instanceof WorkerActor.StateTaken taken) {
      if (!taken.supported()) {
        c.stateless = true;
      }
      if (slot.draining() && slot.snapshotAsked()) {
        replaceIfDrained(slot);
      }
    } else if (event instanceof WorkerActor.StartFailed failed) {
      return onStartFailed(slot, failed);
    } else if (event instanceof WorkerActor.Exited exited) {
      afterExit(slot, exited);
    }
    return Behaviors.same();
  }

  /** A replacement that fails to start is tried again after a backoff that grows with its failures. */
  private Behavior<Command> onStartFailed(Slot slot, WorkerActor.StartFailed failed) {
    c.dispatch.failed();
    int failures = slot.startFailed();
    Duration delay = c.restarts.backoff(failures);
    c.context.getLog().warn("pool '{}': replacement worker {} failed to start; retrying in {} ms: {}",
        c.settings.name(), slot.workerId(), delay.toMillis(), failed.error().getMessage());
    c.slotWorkers.respawnLater(slot, delay);
    c.noLiveWorker().ifPresent(c.dispatch::failQueued); // calls queued for a worker that cannot start: why, now
    return Behaviors.same();
  }

  /**
   * A recycled worker with no call left is stopped; a spare or a fresh one takes its slot. With snapshot.on-stop, it
   * is first asked for its adapter's state (unless the pool learnt that its adapter keeps none), which its
   * replacement then restores; the answer, whatever it is, brings this back.
   */
  private void replaceIfDrained(Slot slot) {
    if (slot.inFlight() == 0 && c.settings.worker().snapshot().onStop() && !c.stateless && !slot.snapshotAsked()) {
      slot.askedForSnapshot();
      slot.worker().tell(WorkerActor.TakeSnapshot.INSTANCE);
    } else if (slot.inFlight() == 0) {
      c.context.getLog().info("pool '{}': replacing worker {} (recycled)", c.settings.name(), slot.workerId());
      c.slotWorkers.stop(slot);
      replace(slot, "recycled");
    }
  }

  /** A ready spare takes the slot at once (and a new spare starts), else a fresh worker starts in it. */
  private void replace(Slot slot, String why) {
    String gone = slot.workerId();
    // A spare is already running without the slot's state: a slot with state starts a fresh worker that restores it.
    Slot spare = slot.spare || slot.adapterState() != null ? null : c.slots.readySpare();
    if (spare == null) {
      c.slotWorkers.spawn(slot);
      replaced(gone, slot.workerId(), why);
      return;
    }
    c.context.getLog().info("pool '{}': spare worker {} takes slot {}", c.settings.name(), spare.workerId(),
        slot.index);
    c.slots.giveWorker(spare, slot);
    replaced(gone, slot.workerId(), why);
    c.slotWorkers.spawn(spare);
    c.dispatch.offer(slot);
  }

  private void replaced(String worker, String replacement, String why) {
    c.events.publish(new SnakepitEvent.WorkerReplaced(Instant.now(), c.events.instance(), c.settings.name(), worker,
        replacement, why));
  }

  /**
   * A spare that is ready while a serving slot still waits for its own replacement to start swaps with it: the slot
   * serves now, and the worker still starting becomes the spare. A slot that waits out a backoff is left to it.
   */
  private void takeOverAStart(Slot spare) {
    Slot waiting = c.slots.startingServingSlot();
    if (waiting == null || waiting.adapterState() != null) { // its starting worker restores the slot's state
      return;
    }
    c.context.getLog().info("pool '{}': spare worker {} takes slot {}; its starting worker {} becomes a spare",
        c.settings.name(), spare.workerId(), waiting.index, waiting.workerId());
    String starting = waiting.workerId();
    c.slots.swapWorkers(waiting, spare);
    replaced(starting, waiting.workerId(), "spare");
    c.dispatch.offer(waiting);
  }

  /** A serving pool's worker ended (starting or running): replaced at once, or later if its slot is tainted. */
  void afterExit(Slot slot, WorkerActor.Exited exited) {
    if (exited.requested()) {
      // Stopped, but not by this coordinator (it would be stopping, or the slot replaced): its supervisor is
      // shutting down or restarting; the slot waits for the next worker supervisor.
      slot.leave();
      return;
    }
    if (exited.duringCall()) {
      // A call crashed it: the tool's failure, like a Python exception, not the slot's. Every such respawn served a
      // call first, so this cannot spin without calls; the breaker and the taint count only deaths without one.
      c.dispatch.succeeded();
      c.context.getLog().warn("pool '{}': worker {} {} while serving a call; replacing it", c.settings.name(),
          exited.workerId(), exited.status());
      replace(slot, "crashed");
      return;
    }
    c.dispatch.failed();
    int crashes = slot.crashed(System.nanoTime(), c.settings.taintWindow());
    if (c.restarts.tainted(crashes)) {
      // Tainted: its workers die by themselves again and again; back off rather than feed it a fresh process at once.
      Duration delay = c.restarts.taintBackoff(crashes);
      c.context.getLog().warn("pool '{}': worker {} {} without a call; slot {} lost {} workers without a call within"
          + " {} s (tainted): replacing it in {} ms", c.settings.name(), exited.workerId(), exited.status(),
          slot.index, crashes, c.settings.taintWindow().toSeconds(), delay.toMillis());
      c.events.publish(new SnakepitEvent.WorkerTainted(Instant.now(), c.events.instance(), c.settings.name(),
          exited.workerId(), slot.index, crashes, delay));
      slot.backOff();
      c.slotWorkers.respawnLater(slot, delay);
      return;
    }
    c.context.getLog().warn("pool '{}': worker {} {} without a call; replacing it", c.settings.name(),
        exited.workerId(), exited.status());
    replace(slot, "crashed");
  }

  Behavior<Command> onRespawn(Respawn msg) {
    Slot slot = c.slots.get(msg.slot());
    if (slot != null && !slot.alive() && !slot.retiring()) {
      c.slotWorkers.spawn(slot);
    }
    return Behaviors.same();
  }
}
