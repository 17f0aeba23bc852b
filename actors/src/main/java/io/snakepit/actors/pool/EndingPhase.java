package io.snakepit.actors.pool;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.PoolUnavailableException;
import io.snakepit.SnakepitException;
import io.snakepit.actors.pool.PoolActor.Abort;
import io.snakepit.actors.pool.PoolActor.AwaitReady;
import io.snakepit.actors.pool.PoolActor.Begin;
import io.snakepit.actors.pool.PoolActor.Command;
import io.snakepit.actors.pool.PoolActor.Resize;
import io.snakepit.actors.pool.PoolActor.Respawn;
import io.snakepit.actors.pool.PoolActor.Shutdown;
import io.snakepit.actors.pool.PoolActor.Stop;
import io.snakepit.actors.pool.PoolActor.WorkerGone;
import io.snakepit.actors.pool.PoolActor.WorkersUp;
import io.snakepit.actors.worker.Job;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A pool that ends: {@code failed} (its first start failed; calls fail with that reason) and {@code stopping} (its
 * workers stop; the actor stops once none is alive). Neither starts or replaces a worker.
 */
final class EndingPhase {
  private final Coordinator c;

  EndingPhase(Coordinator coordinator) {
    this.c = coordinator;
  }

  /** The first start failed (or could not begin): the workers started so far are stopped. */
  Behavior<Command> fail(SnakepitException error) {
    c.context.getLog().error("pool '{}' failed to start: {}", c.settings.name(), error.getMessage());
    c.readyWaiters.forEach(p -> p.completeExceptionally(error));
    c.readyWaiters.clear();
    c.resizeWaiters.forEach(p -> p.completeExceptionally(failedToStart(error)));
    c.resizeWaiters.clear();
    c.dispatch.closeAll(failedToStart(error), c.slots);
    c.slotWorkers.stopAll();
    return failed(error);
  }

  private Behavior<Command> failed(SnakepitException failure) {
    return ended(job -> reject(job, () -> failedToStart(failure)))
        .onMessage(AwaitReady.class, msg -> {
          msg.promise().completeExceptionally(failure);
          return Behaviors.same();
        })
        .onMessage(WorkerGone.class, msg -> c.onWorkerGone(msg, false))
        .onMessage(Abort.class, msg -> Behaviors.same())
        .onMessage(Shutdown.class, this::onShutdown)
        .onMessageEquals(Stop.INSTANCE, this::onStop)
        .build();
  }

  private PoolUnavailableException failedToStart(SnakepitException failure) {
    return new PoolUnavailableException("pool '" + c.settings.name() + "' failed to start: " + failure.getMessage(),
        failure);
  }

  /** The coordinator's supervisor stops it: as a {@link Shutdown} nobody waits for. */
  Behavior<Command> onStop() {
    return onShutdown(new Shutdown(new CompletableFuture<>()));
  }

  /** Calls still queued fail, every worker is told to stop, and the pool ends once none is alive. */
  Behavior<Command> onShutdown(Shutdown msg) {
    c.stopWaiters.add(msg.promise());
    // Only a start still in progress has waiters here: they learn it will not finish.
    c.readyWaiters.forEach(p -> p.completeExceptionally(
        new PoolUnavailableException("pool '" + c.settings.name() + "' was stopped while starting", null)));
    c.readyWaiters.clear();
    c.resizeWaiters.forEach(p -> p.completeExceptionally(isStopping()));
    c.resizeWaiters.clear();
    c.dispatch.closeAll(new PoolUnavailableException("pool '" + c.settings.name()
        + "' stopped before the call reached a worker", null), c.slots);
    c.timers.cancelAll();
    c.slotWorkers.stopAll();
    return stopOnceNoneAlive(this::stopping);
  }

  private Behavior<Command> stopping() {
    return ended(job -> reject(job, this::isStopping))
        .onMessage(AwaitReady.class, msg -> {
          msg.promise().completeExceptionally(isStopping());
          return Behaviors.same();
        })
        .onMessage(WorkerGone.class, msg -> {
          c.onWorkerGone(msg, false);
          return stopOnceNoneAlive(Behaviors::same);
        })
        .onMessage(Abort.class, msg -> stopOnceNoneAlive(Behaviors::same))
        .onMessage(Shutdown.class, msg -> {
          c.stopWaiters.add(msg.promise());
          return stopOnceNoneAlive(Behaviors::same);
        })
        .onMessageEquals(Stop.INSTANCE, () -> stopOnceNoneAlive(Behaviors::same))
        .build();
  }

  /** Stopped once no worker is alive; {@code meanwhile} until then. */
  private Behavior<Command> stopOnceNoneAlive(Supplier<Behavior<Command>> meanwhile) {
    if (c.slots.noneAlive()) {
      c.context.getLog().info("pool '{}' stopped", c.settings.name());
      c.stopWaiters.forEach(p -> p.complete(null));
      return Behaviors.stopped();
    }
    return meanwhile.get();
  }

  private PoolUnavailableException isStopping() {
    return new PoolUnavailableException("pool '" + c.settings.name() + "' is stopping", null);
  }

  /** What failed and stopping do alike: calls (bounced ones too) are rejected, and no worker starts again. */
  private BehaviorBuilder<Command> ended(Function<Job, Behavior<Command>> reject) {
    return c.receive(reject, c::ignore)
        .onMessage(Resize.class, msg -> {
          msg.promise().completeExceptionally(new PoolUnavailableException("pool '" + c.settings.name()
              + "' cannot be resized: it has failed or is stopping", null));
          return Behaviors.same();
        })
        .onMessage(WorkersUp.class, msg -> c.onWorkersUp(msg, false))
        .onMessageEquals(Begin.INSTANCE, Behaviors::same)
        .onMessage(Respawn.class, msg -> Behaviors.same());
  }

  private Behavior<Command> reject(Job job, Supplier<PoolUnavailableException> why) {
    job.fail(why.get());
    return Behaviors.same();
  }
}
