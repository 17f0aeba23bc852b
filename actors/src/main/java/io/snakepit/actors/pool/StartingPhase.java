package io.snakepit.actors.pool;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.actors.pool.PoolActor.Abort;
import io.snakepit.actors.pool.PoolActor.AwaitReady;
import io.snakepit.actors.pool.PoolActor.Begin;
import io.snakepit.actors.pool.PoolActor.Command;
import io.snakepit.actors.pool.PoolActor.Resize;
import io.snakepit.actors.pool.PoolActor.Respawn;
import io.snakepit.actors.pool.PoolActor.WorkerGone;
import io.snakepit.actors.pool.PoolActor.WorkersUp;
import io.snakepit.actors.worker.WorkerActor;

/**
 * A pool's first start: {@code waiting} for the node's settlement ({@link Begin}) and the worker supervisor, then
 * {@code starting} every worker (start-concurrency at a time) until all are ready. Calls queue meanwhile; the first worker that cannot
 * start fails the pool.
 */
final class StartingPhase {
  private final Coordinator c;

  StartingPhase(Coordinator coordinator) {
    this.c = coordinator;
  }

  /** Before any worker starts; {@code begun}: the settlement is done, so the worker supervisor is all it waits for. */
  Behavior<Command> waiting(boolean begun) {
    return c.receiveCalls(c::ignore)
        .onMessageEquals(Begin.INSTANCE, () -> c.slotWorkers.supervisorUp() ? starting() : waiting(true))
        .onMessage(WorkersUp.class, msg -> {
          c.onWorkersUp(msg, false);
          return begun ? starting() : Behaviors.same();
        })
        .onMessage(Abort.class, msg -> c.ending.fail(msg.error()))
        .onMessage(WorkerGone.class, msg -> c.onWorkerGone(msg, false))
        .onMessage(Respawn.class, msg -> Behaviors.same())
        .onMessage(AwaitReady.class, this::onAwaitReady)
        .onMessage(Resize.class, msg -> c.onResize(msg, false))
        .build();
  }

  /** Starts every worker and spare, start-concurrency at a time (the rest wait their turn). */
  private Behavior<Command> starting() {
    c.context.getLog().info("pool '{}' starting {} workers and {} spares of {}, {} at a time", c.settings.name(),
        c.settings.workers(), c.settings.spares(), c.settings.worker().adapter(), c.settings.startConcurrency());
    c.slots.forEach(c.slotWorkers::spawn);
    return c.receiveCalls(this::react)
        .onMessage(WorkerGone.class, msg -> c.onWorkerGone(msg, true))
        .onMessage(AwaitReady.class, this::onAwaitReady)
        .onMessage(WorkersUp.class, msg -> c.onWorkersUp(msg, false))
        .onMessageEquals(Begin.INSTANCE, Behaviors::same)
        .onMessage(Abort.class, msg -> Behaviors.same())
        .onMessage(Respawn.class, c.running::onRespawn) // a state that failed to restore, a tainted slot's backoff
        .onMessage(Resize.class, msg -> {
          c.onResize(msg, true);
          return c.slots.allReady() ? c.running.begin() : Behaviors.same(); // a shrink may retire the last start
        })
        .build();
  }

  private Behavior<Command> onAwaitReady(AwaitReady msg) {
    c.readyWaiters.add(msg.promise());
    return Behaviors.same();
  }

  /** A starting worker's event: the pool runs once every slot's worker is ready. */
  private Behavior<Command> react(Slot slot, WorkerActor.Event event) {
    if (event instanceof WorkerActor.Ready) {
      if (!slot.spare) {
        c.dispatch.offer(slot);
      }
      return c.slots.allReady() ? c.running.begin() : Behaviors.same();
    } else if (event instanceof WorkerActor.Idle) {
      if (!slot.draining() && slot.ready()) {
        c.dispatch.offer(slot);
      }
    } else if (event instanceof WorkerActor.StartFailed failed) {
      if (slot.takeStateDropped()) {
        // The state it was given did not come back up (another adapter journaled it, or restore() raised): the
        // slot's next worker starts without it, as in a running pool; the pool's start does not fail for it.
        slot.startFailed();
        c.slotWorkers.respawnLater(slot, java.time.Duration.ZERO);
        return Behaviors.same();
      }
      return c.ending.fail(failed.error()); // all or nothing: one worker that cannot start fails the first start
    } else if (event instanceof WorkerActor.Exited exited) {
      c.running.afterExit(slot, exited);
    }
    return Behaviors.same();
  }
}
