package io.snakepit.actors.worker;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.SnakepitEvent;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.actors.worker.WorkerActor.Dispose;
import io.snakepit.actors.worker.WorkerActor.Execute;
import io.snakepit.actors.worker.WorkerActor.ExitOverdue;
import io.snakepit.actors.worker.WorkerActor.Exited;
import io.snakepit.actors.worker.WorkerActor.Released;
import io.snakepit.actors.worker.WorkerActor.ShimExited;
import io.snakepit.actors.worker.WorkerActor.StopDeadline;
import io.snakepit.shim.ExitStatus;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A worker's end: the tree is gone (or given up on), the containment is released on the blocking dispatcher while
 * everything else waits, the pool is told, and the actor ends once the pool disposed of it and NuProcess reported the
 * exit. Also the stop deadlines of {@link StopTimeline}.
 */
final class EndingPhase {
  private final Worker w;

  EndingPhase(Worker worker) {
    this.w = worker;
  }

  /** The shim's EXIT line: the whole tree is gone. {@code exited} follows once the containment is released. */
  Behavior<Command> onExitLine(ExitStatus exit, Function<String, Behavior<Command>> exited) {
    w.closePort();
    w.crashReason = StartDiagnosis.crashReason(exit);
    w.checkLimits();
    if (w.limitHit != null) {
      w.crashReason = w.limitHit.reason();
    }
    String status = w.limitHit == null ? exit.describe() : w.limitHit.message() + " (" + exit.describe() + ")";
    return releasing(() -> {
      w.journal.exited(w.launch.nonce(), status);
      return exited.apply(status);
    });
  }

  /** The shim exited without an EXIT line: it was killed, so nothing took its tree down. Do it here. */
  Behavior<Command> onShimDied(ShimExited msg, Function<String, Behavior<Command>> ended) {
    w.closePort();
    List<Integer> killed = w.shim.sweep();
    String status = "its shim (pid " + w.shim.pid() + ") died unexpectedly (NuProcess exit code "
        + msg.nuProcessCode() + ")";
    w.context.getLog().warn("worker {}: {}; killed the rest of its tree: {}", w.id, status, killed);
    return releasing(() -> { // cgroup.kill: also what left the session
      if (w.shim.started()) {
        w.journal.exited(w.launch.nonce(), status + "; the rest of its tree was killed");
      }
      Behavior<Command> next = ended.apply(status);
      return Behavior.isAlive(next) ? awaitingDispose() : next; // NuProcess has reported the exit already
    });
  }

  /**
   * Stopped before the spawn, with its reservation durable: the reservation is closed and the containment released;
   * nothing ran.
   */
  Behavior<Command> neverSpawned() {
    w.journal.exited(w.launch.nonce(), "never started: stopped before it was spawned");
    return neverReserved();
  }

  /** Stopped once its containment was prepared, before anything was journaled: the containment is released. */
  Behavior<Command> neverReserved() {
    return releasing(() -> {
      w.pool.tell(new Exited(w.id, "stopped before it was spawned", true, false, List.of()));
      return Behaviors.stopped();
    });
  }

  /** Tells the pool how the worker ended, ending its calls; NuProcess's exit report and Dispose may still come. */
  Behavior<Command> reportExit(String status, boolean requested) {
    w.publishExit(requested ? "stopped" : reason(w.crashReason), status, duringCall());
    w.pool.tell(new Exited(w.id, status, requested, duringCall(), endCalls(status, requested)));
    return afterExit();
  }

  /**
   * The containment is released on the blocking dispatcher (cgroup removal waits for the kernel, runc deletes its
   * state) while every other message waits in the stash; then {@code then} runs and they are handled.
   */
  Behavior<Command> releasing(Supplier<Behavior<Command>> then) {
    w.timers.cancel(WorkerActor.LimitTick.INSTANCE);
    w.context.pipeToSelf(CompletableFuture.runAsync(w.containment::release, w.blocking),
        (done, error) -> new Released(error));
    return w.receive()
        .onMessage(Released.class, msg -> {
          if (msg.error() != null) {
            w.context.getLog().error("worker {}: {}", w.id, Worker.unwrap(msg.error()).getMessage());
          }
          return w.stash.unstashAll(then.get());
        })
        .onMessage(Command.class, msg -> {
          if (w.stash.isFull()) {
            w.context.getLog().warn("worker {}: dropped {} while releasing its containment", w.id, msg);
          } else {
            w.stash.stash(msg);
          }
          return Behaviors.same();
        })
        .build();
  }

  /** The exit is reported; NuProcess's exit report and the pool's Dispose are still to come. */
  private Behavior<Command> afterExit() {
    return ended()
        .onMessage(ShimExited.class, msg -> awaitingDispose())
        .onMessageEquals(Dispose.INSTANCE, this::awaitingProcessEnd)
        .onMessageEquals(StopDeadline.INSTANCE, this::onStopDeadline)
        .onMessageEquals(ExitOverdue.INSTANCE, () -> {
          giveUp();
          return awaitingDispose();
        })
        .build();
  }

  /** The process is gone and the pool told: the actor ends with the pool's Dispose. */
  private Behavior<Command> awaitingDispose() {
    return ended().onMessageEquals(Dispose.INSTANCE, Behaviors::stopped).build();
  }

  /** Disposed of by the pool: the actor ends once NuProcess reports the exit (or it is overdue). */
  private Behavior<Command> awaitingProcessEnd() {
    return ended()
        .onMessage(ShimExited.class, msg -> Behaviors.stopped())
        .onMessageEquals(StopDeadline.INSTANCE, this::onStopDeadline)
        .onMessageEquals(ExitOverdue.INSTANCE, () -> {
          giveUp();
          return Behaviors.stopped();
        })
        .build();
  }

  /** After the report: a late call goes back to the pool; everything else is over. */
  private BehaviorBuilder<Command> ended() {
    return w.receive().onMessage(Execute.class, w::bounce);
  }

  /** The shim did not finish its own teardown in time: kill it and sweep its session here. */
  Behavior<Command> onStopDeadline() {
    w.context.getLog().warn("worker {}: shim did not exit after stop; killing it", w.id);
    w.shim.destroy();
    w.shim.sweep();
    w.timers.startSingleTimer(ExitOverdue.INSTANCE, StopTimeline.SWEEP_MARGIN);
    return Behaviors.same();
  }

  /** Stopping, and no exit report even after the shim was killed: report the end and wait for Dispose. */
  Behavior<Command> exitOverdue() {
    String status = giveUp();
    w.publishExit("stopped", status, duringCall());
    w.pool.tell(new Exited(w.id, status, true, duringCall(), endCalls(status, true)));
    return w.stash.unstashAll(awaitingDispose());
  }

  /** NuProcess never reported the exit (its threads stop in a JVM shutdown hook): the tree is swept; give up. */
  private String giveUp() {
    List<Integer> killed = w.shim.sweep();
    w.context.getLog().warn("worker {}: no exit report from the shim {} ms after killing it; swept {}; stopping",
        w.id, StopTimeline.SWEEP_MARGIN.toMillis(), killed);
    return "stopped without an exit report from its shim";
  }

  /** A crash's reason as {@link SnakepitEvent.WorkerExited} names it: memory-limit for MEMORY_LIMIT. */
  static String reason(WorkerCrashedException.Reason reason) {
    return reason.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Whether it died serving calls; one killed for missed pings counts as unresponsive, whatever it was running. */
  private boolean duringCall() {
    return !w.calls.isEmpty() && (w.upkeep == null || !w.upkeep.unresponsive());
  }

  /** Fails the calls in flight, except idempotent ones with attempts left after a crash: those are returned. */
  private List<Job> endCalls(String status, boolean requested) {
    w.calls.forEach((callId, job) -> w.serving.publishEnd(callId, job, SnakepitEvent.Outcome.FAILED));
    if (requested) {
      w.calls.failAll(() -> new WorkerCallException("worker " + w.id + " stopped before the call finished: "
          + status, null));
      return List.of();
    }
    List<String> tail = w.diagnosis.tail();
    return w.calls.crash(w.launch.settings().retryAttempts(),
        () -> new WorkerCrashedException(w.id, status, w.crashReason, tail));
  }
}
