package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.PoolUnavailableException;
import io.snakepit.SnakepitEvent;
import io.snakepit.actors.worker.WorkerActor.CallFinished;
import io.snakepit.actors.worker.WorkerActor.CancelCall;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.actors.worker.WorkerActor.Detach;
import io.snakepit.actors.worker.WorkerActor.DetachDeadline;
import io.snakepit.actors.worker.WorkerActor.DetachJournaled;
import io.snakepit.actors.worker.WorkerActor.DetachOutcome;
import io.snakepit.actors.worker.WorkerActor.Dispose;
import io.snakepit.actors.worker.WorkerActor.Execute;
import io.snakepit.actors.worker.WorkerActor.FromShim;
import io.snakepit.actors.worker.WorkerActor.ShimExited;
import io.snakepit.actors.worker.WorkerActor.Stop;
import io.snakepit.actors.worker.WorkerActor.TransportGraceOver;
import io.snakepit.shim.ShimEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A ready worker in a planned restart (docs/ADOPTION.md): {@code draining} (no new calls, those in flight end within
 * the stop grace), {@code handing over} (the shim's DETACH, then the journal: prepared; then, once the node has every
 * worker prepared, its {@link WorkerActor.Leave}: the shim's LEAVE) and {@code detached} (the shim waits for a next
 * node; the actor's end leaves the tree alone). Until the shim has said LEFT, the lifeline is whole: a JVM killed
 * meanwhile takes the tree down at once. Any failure on the way stops the worker as ever.
 */
final class DetachingPhase {
  private final Worker w;
  /** Who waits for the current step's outcome (Detach's, then Leave's). */
  private ActorRef<DetachOutcome> replyTo;
  private boolean prepared;
  private Duration window;
  private Path control;
  private boolean left;

  DetachingPhase(Worker worker) {
    this.w = worker;
  }

  /** Whether the shim let this JVM go: its tree is no longer this actor's to end. */
  boolean left() {
    return left;
  }

  /** A worker that is stopping (or detaching already) stays on its way. */
  Behavior<Command> refuse(Detach msg) {
    msg.replyTo().tell(new DetachOutcome(w.id, false, "it was stopping already"));
    return Behaviors.same();
  }

  /** From ready: no new calls; once those in flight have ended (or the stop grace is over), the shim is asked. */
  Behavior<Command> begin(Detach msg) {
    replyTo = msg.replyTo();
    window = msg.window();
    control = controlSocket(w.launch);
    w.closePort();
    w.timers.cancel(WorkerActor.RecycleTick.INSTANCE);
    w.timers.cancel(WorkerActor.SnapshotTick.INSTANCE);
    if (w.calls.isEmpty()) {
      return snapshotThenAskShim();
    }
    w.timers.startSingleTimer(DetachDeadline.INSTANCE, w.timeline.stopGrace());
    return draining();
  }

  /** Where a worker's shim listens for a next node: beside its gRPC socket, in the node's 0700 run directory. */
  static Path controlSocket(Launch launch) {
    return launch.socket().resolveSibling(launch.workerId() + ".ctl");
  }

  private Behavior<Command> draining() {
    return common()
        .onMessage(CallFinished.class, msg -> {
          w.serving.onCallFinished(msg, false);
          return w.calls.isEmpty() ? snapshotThenAskShim() : Behaviors.same();
        })
        .onMessage(TransportGraceOver.class, msg -> {
          w.serving.onTransportGraceOver(msg, false);
          return w.calls.isEmpty() ? snapshotThenAskShim() : Behaviors.same();
        })
        .onMessageEquals(DetachDeadline.INSTANCE, () -> {
          w.context.getLog().warn("worker {}: calls still running after the stop grace ({} ms); they fail as the"
              + " node exits, and the worker is detached", w.id, w.timeline.stopGrace().toMillis());
          return snapshotThenAskShim();
        })
        .onMessage(WorkerActor.SnapshotAnswered.class, w.serving::onSnapshotAnswered) // an interval's, under way
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, this::endedFirst))
        .build();
  }

  /**
   * With no call running, a worker whose adapter may keep state is asked for a snapshot first (as at a planned stop,
   * {@code snapshot.on-stop}), which its pool journals: should no next node adopt the worker, the slot's next one
   * restores it. The shim is asked once the snapshot is answered (within {@code snapshot.timeout}).
   */
  private Behavior<Command> snapshotThenAskShim() {
    w.timers.cancel(DetachDeadline.INSTANCE);
    if (!w.launch.settings().snapshot().onStop() || w.stateless || !w.journal.keepsStates()) {
      return askShim();
    }
    w.serving.takeSnapshot();
    return common()
        .onMessage(WorkerActor.SnapshotAnswered.class, msg -> {
          w.serving.onSnapshotAnswered(msg);
          return askShim();
        })
        .onMessage(CallFinished.class, msg -> w.serving.onCallFinished(msg, false))
        .onMessage(TransportGraceOver.class, msg -> w.serving.onTransportGraceOver(msg, false))
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, this::endedFirst))
        .build();
  }

  private Behavior<Command> askShim() {
    w.timers.cancel(DetachDeadline.INSTANCE);
    w.shim.send("DETACH " + window.toMillis() + " " + control);
    return handingOver();
  }

  private Behavior<Command> handingOver() {
    return common()
        .onMessage(CallFinished.class, msg -> w.serving.onCallFinished(msg, false))
        .onMessage(TransportGraceOver.class, msg -> w.serving.onTransportGraceOver(msg, false))
        .onMessage(FromShim.class, this::onShimLine)
        .onMessage(DetachJournaled.class, this::onJournaled)
        .onMessage(WorkerActor.Leave.class, this::onLeave)
        .build();
  }

  private Behavior<Command> onShimLine(FromShim msg) {
    ShimEvent event = msg.event();
    if (event instanceof ShimEvent.Detached) {
      long until = System.currentTimeMillis() + window.toMillis();
      w.context.pipeToSelf(w.journal.detached(w.launch.nonce(), control.toString(), until),
          (done, error) -> new DetachJournaled(error));
      return Behaviors.same();
    }
    if (event instanceof ShimEvent.DetachFailed failed) {
      return giveUp("its shim could not listen for a next node: " + failed.message());
    }
    if (event instanceof ShimEvent.Left) {
      left = true;
      reply(true, "waits " + window.toMillis() + " ms for the next node at " + control);
      w.context.getLog().info("worker {}: detached; its shim waits {} ms for the next node at {}", w.id,
          window.toMillis(), control);
      w.events.publish(new SnakepitEvent.WorkerDetached(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
          w.identity.pid(), w.identity.shimPid(), control.toString(), Instant.now().plus(window)));
      return detached();
    }
    return w.onShimEvent(msg, this::endedFirst);
  }

  private Behavior<Command> onJournaled(DetachJournaled msg) {
    if (msg.error() != null) {
      // Unjournaled, a waiting tree would be found by its markers only: stop it as ever instead.
      return giveUp("the journal did not take its detachment: " + Worker.unwrap(msg.error()).getMessage());
    }
    prepared = true;
    reply(true, "its shim listens at " + control + "; journaled");
    return Behaviors.same();
  }

  /** Every worker of the node is prepared: let the shim go. */
  private Behavior<Command> onLeave(WorkerActor.Leave msg) {
    if (!prepared) {
      msg.replyTo().tell(new DetachOutcome(w.id, false, "it was not prepared"));
      return Behaviors.same();
    }
    replyTo = msg.replyTo();
    w.shim.send("LEAVE");
    return Behaviors.same();
  }

  /** The shim let go: the actor's end (the node's exit) leaves the tree running, bounded by the shim's window. */
  private Behavior<Command> detached() {
    return w.receive()
        .onMessage(Execute.class, this::refuseCall)
        .onMessage(CallFinished.class, msg -> w.serving.onCallFinished(msg, false))
        .onMessage(TransportGraceOver.class, msg -> w.serving.onTransportGraceOver(msg, false))
        .onMessage(CancelCall.class, w.serving::onCancelCall)
        .onMessage(Detach.class, this::refuse)
        .onMessage(WorkerActor.Leave.class, msg -> {
          msg.replyTo().tell(new DetachOutcome(w.id, true, "left already"));
          return Behaviors.same();
        })
        .onMessage(Stop.class, stop -> { // the pool's stop or the node's (WITH_SNAPSHOT): left already, so none
          w.pool.tell(new WorkerActor.Exited(w.id, "detached: left running for the next node", true, false,
              List.of()));
          return Behaviors.same();
        })
        .onMessageEquals(Dispose.INSTANCE, Behaviors::stopped)
        .onMessage(FromShim.class, msg -> Behaviors.same()) // nothing more comes on the old pipe after LEFT
        .onMessage(ShimExited.class, msg -> Behaviors.same()) // the window ended while this JVM still ran
        .build();
  }

  /** What every step before LEFT does alike. */
  private akka.actor.typed.javadsl.BehaviorBuilder<Command> common() {
    return w.receive()
        .onMessage(Execute.class, this::refuseCall)
        .onMessage(CancelCall.class, w.serving::onCancelCall)
        .onMessage(ShimExited.class, msg -> {
          reply(false, "its shim died first");
          return w.ending.onShimDied(msg, status -> w.ending.reportExit(status, true));
        })
        .onMessage(Stop.class, stop -> giveUp("it was told to stop first"))
        .onMessage(Detach.class, this::refuse)
        .onMessageEquals(Dispose.INSTANCE, w::holdDispose);
  }

  /** The worker's process ended before it was detached. */
  private Behavior<Command> endedFirst(String status) {
    reply(false, "its process ended first: " + status);
    return w.ending.reportExit(status, true);
  }

  /** Not detached after all: the worker stops as ever, its tree with it. */
  private Behavior<Command> giveUp(String why) {
    w.context.getLog().warn("worker {}: not detached, it stops with the node: {}", w.id, why);
    reply(false, why);
    return w.serving.onStop();
  }

  /** A call that reached the worker after the detach began: it never ran. */
  private Behavior<Command> refuseCall(Execute msg) {
    msg.job().fail(new PoolUnavailableException("worker " + w.id + " is being detached for a planned restart of"
        + " the node: the call did not run; send it again to the next node", null));
    return Behaviors.same();
  }

  private void reply(boolean kept, String detail) {
    if (replyTo != null) {
      replyTo.tell(new DetachOutcome(w.id, kept, detail));
      replyTo = null;
    }
  }
}
