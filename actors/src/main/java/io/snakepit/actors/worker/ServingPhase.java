package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.grpc.Status;
import io.snakepit.CallTimeoutException;
import io.snakepit.SnakepitEvent;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.actors.worker.WorkerActor.CallFinished;
import io.snakepit.actors.worker.WorkerActor.CancelCall;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.actors.worker.WorkerActor.Dispose;
import io.snakepit.actors.worker.WorkerActor.Execute;
import io.snakepit.actors.worker.WorkerActor.ExitOverdue;
import io.snakepit.actors.worker.WorkerActor.FromShim;
import io.snakepit.actors.worker.WorkerActor.HealthTick;
import io.snakepit.actors.worker.WorkerActor.LimitTick;
import io.snakepit.actors.worker.WorkerActor.PingAnswered;
import io.snakepit.actors.worker.WorkerActor.Prepared;
import io.snakepit.actors.worker.WorkerActor.RecycleTick;
import io.snakepit.actors.worker.WorkerActor.Refused;
import io.snakepit.actors.worker.WorkerActor.Reserved;
import io.snakepit.actors.worker.WorkerActor.ShimExited;
import io.snakepit.actors.worker.WorkerActor.Stop;
import io.snakepit.actors.worker.WorkerActor.StopDeadline;
import io.snakepit.actors.worker.WorkerActor.TransportGraceOver;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A worker that serves: {@code ready} (calls, pings, recycling) and {@code stopping} (the calls in flight finish
 * within the stop grace while the shim takes the tree down; new calls go back to the pool).
 */
final class ServingPhase {
  private final Worker w;

  ServingPhase(Worker worker) {
    this.w = worker;
  }

  /** Serving calls, pinged, watched for recycling. */
  Behavior<Command> ready() {
    return w.receive()
        .onMessage(Execute.class, this::onExecute)
        .onMessage(CallFinished.class, msg -> onCallFinished(msg, true))
        .onMessage(TransportGraceOver.class, msg -> onTransportGraceOver(msg, true))
        .onMessage(CancelCall.class, this::onCancelCall)
        .onMessageEquals(HealthTick.INSTANCE, this::onHealthTick)
        .onMessage(PingAnswered.class, this::onPingAnswered)
        .onMessageEquals(RecycleTick.INSTANCE, this::onRecycleTick)
        .onMessage(WorkerActor.Recycle.class, msg -> {
          w.upkeep.asked(msg.reason()).ifPresent(this::recycleDue);
          return Behaviors.same();
        })
        .onMessageEquals(LimitTick.INSTANCE, w::onLimitTick)
        .onMessageEquals(WorkerActor.SnapshotTick.INSTANCE, this::takeSnapshot)
        .onMessageEquals(WorkerActor.TakeSnapshot.INSTANCE, this::takeSnapshot)
        .onMessage(WorkerActor.SnapshotAnswered.class, this::onSnapshotAnswered)
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, status -> w.ending.reportExit(status, false)))
        .onMessage(ShimExited.class, msg -> w.ending.onShimDied(msg, status -> w.ending.reportExit(status, false)))
        .onMessageEquals(Stop.INSTANCE, this::onStop)
        .onMessageEquals(Stop.WITH_SNAPSHOT, this::onStopWithSnapshot)
        .onMessageEquals(Dispose.INSTANCE, w::holdDispose)
        .onMessage(WorkerActor.Detach.class, w.detaching::begin)
        .build();
  }

  /**
   * The node stops: a worker whose adapter may keep state (not known to define no snapshot()) is asked for one first,
   * when the journal keeps states, so that the slot's worker of the next start restores it; the shim's stop follows
   * the answer (which comes within snapshot.timeout, the snapshot's own deadline).
   */
  private Behavior<Command> onStopWithSnapshot() {
    if (!w.launch.settings().snapshot().onStop() || w.stateless || !w.journal.keepsStates()) {
      return onStop();
    }
    w.closePort();
    w.timers.cancel(RecycleTick.INSTANCE);
    w.timers.cancel(WorkerActor.SnapshotTick.INSTANCE);
    w.stopAfterSnapshot = true;
    takeSnapshot();
    return stopping();
  }

  /** Told to stop: calls in flight finish within the stop grace, then the shim takes the tree down. */
  private Behavior<Command> stopping() {
    return w.receive()
        // Nothing is reserved for a worker stopped while its containment was prepared: a reservation now would only
        // be one more write, and one more open entry, for the stop to close.
        .onMessage(Prepared.class, msg -> w.ending.neverReserved())
        .onMessage(Refused.class, w.starting::onRefused)
        .onMessage(Reserved.class, msg -> msg.error() != null ? w.starting.reserveFailed(msg)
            : w.ending.neverSpawned())
        .onMessage(Execute.class, w::bounce)
        .onMessage(CallFinished.class, msg -> onCallFinished(msg, false))
        .onMessage(TransportGraceOver.class, msg -> onTransportGraceOver(msg, false))
        .onMessage(CancelCall.class, this::onCancelCall)
        .onMessageEquals(LimitTick.INSTANCE, w::onLimitTick)
        .onMessage(WorkerActor.Recycle.class, msg -> Behaviors.same()) // stopping anyway
        .onMessageEquals(WorkerActor.SnapshotTick.INSTANCE, Behaviors::same)
        .onMessageEquals(WorkerActor.TakeSnapshot.INSTANCE, () -> {
          w.pool.tell(new WorkerActor.StateTaken(w.id, null, true)); // too late: the slot keeps its last state
          return Behaviors.same();
        })
        .onMessage(WorkerActor.SnapshotAnswered.class, msg -> {
          onSnapshotAnswered(msg);
          if (w.stopAfterSnapshot) {
            w.stopAfterSnapshot = false;
            stopShim(); // the stop's own timeline begins now
          }
          return Behaviors.same();
        })
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, status -> w.ending.reportExit(status, true)))
        .onMessage(ShimExited.class, msg -> w.ending.onShimDied(msg, status -> w.ending.reportExit(status, true)))
        .onMessageEquals(StopDeadline.INSTANCE, w.ending::onStopDeadline)
        .onMessageEquals(ExitOverdue.INSTANCE, w.ending::exitOverdue)
        .onMessageEquals(Dispose.INSTANCE, w::holdDispose)
        .onMessage(WorkerActor.Detach.class, w.detaching::refuse)
        .onMessage(WorkerActor.Leave.class, msg -> {
          msg.replyTo().tell(new WorkerActor.DetachOutcome(w.id, false, "it was stopping"));
          return Behaviors.same();
        })
        .build();
  }

  /** From starting or ready. */
  Behavior<Command> onStop() {
    w.closePort();
    w.timers.cancel(RecycleTick.INSTANCE);
    w.timers.cancel(WorkerActor.SnapshotTick.INSTANCE);
    stopShim();
    return stopping();
  }

  /** Tells the shim to stop within the stop grace, and when to kill it if it does not. */
  private void stopShim() {
    if (w.shim != null) {
      // Stdin stays open: EOF means the JVM is gone, and would cut the grace to lifeline-grace.
      w.shim.send("STOP " + w.timeline.shimGrace().toMillis());
      w.timers.startSingleTimer(StopDeadline.INSTANCE, w.timeline.killShimAfter());
    } // else still preparing or reserving: that step's end finds it stopping and spawns nothing
  }

  private Behavior<Command> onExecute(Execute msg) {
    Job job = msg.job();
    long remaining = w.calls.remainingNanos(job, System.nanoTime());
    if (remaining <= 0) {
      job.fail(w.calls.timedOut(job));
    }
    if (job.isDone()) {
      w.pool.tell(new WorkerActor.Idle(w.id, false));
      return Behaviors.same();
    }
    long callId = w.calls.add(job);
    ActorRef<Command> self = w.context.getSelf();
    // Cancelling the caller's stage cancels the gRPC call, which the tool sees as current_call().cancelled().
    job.promise().whenComplete((value, error) -> {
      if (job.promise().isCancelled()) {
        self.tell(new CancelCall(callId));
      }
    });
    job.trace().worker(w.id);
    w.channel.execute(job, callId, remaining, (last, error) -> self.tell(new CallFinished(callId, last, error)));
    w.events.publish(new SnakepitEvent.CallStarted(Instant.now(), w.events.instance(), w.launch.pool(), w.id, callId,
        job.request().getTool(), Duration.ofNanos(System.nanoTime() - job.submitted())));
    return Behaviors.same();
  }

  Behavior<Command> onCallFinished(CallFinished msg, boolean serving) {
    w.channel.forget(msg.callId());
    InFlightCalls.Ended ended = w.calls.finish(msg.callId(), msg.last(), msg.error());
    if (ended != null) {
      callEnded(ended, serving);
    } else if (w.calls.isHeld(msg.callId())) {
      w.timers.startSingleTimer(msg.callId(), new TransportGraceOver(msg.callId()), StopTimeline.TRANSPORT_GRACE);
    }
    return Behaviors.same();
  }

  Behavior<Command> onTransportGraceOver(TransportGraceOver msg, boolean serving) {
    InFlightCalls.Ended ended = w.calls.graceOver(msg.callId());
    if (ended != null) {
      callEnded(ended, serving);
    }
    return Behaviors.same();
  }

  /**
   * A call ended (any way). While serving, the pool hears first that the worker is free (and whether it is due for
   * recycling), then the caller its outcome: a caller's next call then finds the worker free (its session's worker,
   * a closed circuit).
   */
  private void callEnded(InFlightCalls.Ended ended, boolean serving) {
    if (serving) {
      w.upkeep.callDone(!ended.failed()).ifPresent(this::recycleDue);
      w.pool.tell(new WorkerActor.Idle(w.id, ended.failed()));
    }
    ended.settle().run();
    publishEnd(ended.callId(), ended.job(), outcome(ended.job()));
  }

  /** Publishes that call {@code callId} ended, with {@code outcome}. */
  void publishEnd(long callId, Job job, SnakepitEvent.Outcome outcome) {
    w.events.publish(new SnakepitEvent.CallEnded(Instant.now(), w.events.instance(), w.launch.pool(), w.id, callId,
        job.request().getTool(), outcome, Duration.ofNanos(System.nanoTime() - job.submitted())));
  }

  /** How a settled call ended, read from its caller's stage. */
  static SnakepitEvent.Outcome outcome(Job job) {
    CompletableFuture<?> promise = job.promise();
    if (promise.isCancelled()) {
      return SnakepitEvent.Outcome.CANCELLED;
    }
    try {
      promise.getNow(null);
      return SnakepitEvent.Outcome.OK;
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof CallTimeoutException) {
        return SnakepitEvent.Outcome.TIMEOUT;
      }
      return cause instanceof WorkerCallException || cause instanceof WorkerCrashedException
          ? SnakepitEvent.Outcome.FAILED : SnakepitEvent.Outcome.ERROR;
    } catch (CancellationException e) {
      return SnakepitEvent.Outcome.CANCELLED;
    }
  }

  /** Asks the worker for its adapter's state, unless a snapshot is on its way already (its answer serves both). */
  Behavior<Command> takeSnapshot() {
    if (!w.snapshotInFlight) {
      w.snapshotInFlight = true;
      ActorRef<Command> self = w.context.getSelf();
      w.channel.snapshot(w.launch.settings().snapshot().timeout(),
          (response, error) -> self.tell(new WorkerActor.SnapshotAnswered(response, error)));
    }
    return Behaviors.same();
  }

  /** The pool hears of every snapshot answer: a state to keep, none (and why, in an event), or no snapshot() at all. */
  Behavior<Command> onSnapshotAnswered(WorkerActor.SnapshotAnswered msg) {
    w.snapshotInFlight = false;
    WorkerSettings.Snapshot settings = w.launch.settings().snapshot();
    String pool = w.launch.pool();
    String failed = null;
    byte[] state = null;
    boolean supported = true;
    if (msg.error() != null && Status.fromThrowable(msg.error()).getCode() == Status.Code.UNIMPLEMENTED) {
      supported = false; // a worker package older than snapshots (a wheel installed apart): it keeps no state
      w.stateless = true;
      w.timers.cancel(WorkerActor.SnapshotTick.INSTANCE);
    } else if (msg.error() != null) {
      Status status = Status.fromThrowable(msg.error());
      failed = status.getCode() == Status.Code.DEADLINE_EXCEEDED
          ? "no snapshot within snapshot.timeout " + settings.timeout().toMillis() + " ms (it waits for the worker's"
              + " running calls): raise snakepit.pools." + pool + ".snapshot.timeout, or make snapshot() quicker"
          : status.getCode() == Status.Code.FAILED_PRECONDITION ? status.getDescription()
          : "the worker did not answer the snapshot: " + status;
    } else if (!msg.response().getSupported()) {
      supported = false;
      w.stateless = true;
      w.timers.cancel(WorkerActor.SnapshotTick.INSTANCE); // nothing to take: the adapter defines no snapshot()
    } else if (msg.response().getStateJson().size() > settings.maxBytes()) {
      failed = "the state is " + msg.response().getStateJson().size() + " bytes, over snapshot.max-bytes "
          + settings.maxBytes() + ": keep less in snapshot(), or raise snakepit.pools." + pool + ".snapshot.max-bytes";
    } else {
      state = msg.response().getStateJson().toByteArray();
    }
    if (failed != null) {
      w.context.getLog().warn("worker {}: snapshot not kept, its slot keeps the last one: {}", w.id, failed);
      w.events.publish(new SnakepitEvent.SnapshotFailed(Instant.now(), w.events.instance(), pool, w.id, failed));
    } else if (state != null) {
      w.events.publish(new SnakepitEvent.StateSaved(Instant.now(), w.events.instance(), pool, w.id, state.length));
    }
    w.pool.tell(new WorkerActor.StateTaken(w.id, state, supported));
    return Behaviors.same();
  }

  Behavior<Command> onCancelCall(CancelCall msg) {
    w.channel.cancel(msg.callId());
    return Behaviors.same();
  }

  private Behavior<Command> onHealthTick() {
    if (w.upkeep.startPing()) {
      ActorRef<Command> self = w.context.getSelf();
      w.channel.ping(w.launch.settings().health().timeout(), (ok, why) -> self.tell(new PingAnswered(ok, why)));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onPingAnswered(PingAnswered msg) {
    boolean kill = w.upkeep.pingAnswered(msg.ok());
    if (msg.ok()) {
      return Behaviors.same();
    }
    WorkerSettings.Health health = w.launch.settings().health();
    int missed = w.upkeep.pingsMissed();
    w.context.getLog().warn("worker {} missed a ping ({} of {} in a row): {}", w.id, missed, health.maxMissed(),
        msg.why());
    if (kill) {
      w.context.getLog().error("worker {} missed {} pings in a row: killing it; the pool replaces it", w.id, missed);
      w.diagnosis.stderr("snakepit: killed after " + missed + " missed pings (health.timeout "
          + health.timeout().toMillis() + " ms)");
      w.shim.send("KILL");
    }
    return Behaviors.same();
  }

  private Behavior<Command> onRecycleTick() {
    w.upkeep.tick(System.nanoTime()).ifPresent(this::recycleDue);
    return Behaviors.same();
  }

  private void recycleDue(String reason) {
    w.context.getLog().info("worker {} is due for replacement: {}", w.id, reason);
    w.pool.tell(new WorkerActor.RecycleDue(w.id, reason));
    w.events.publish(new SnakepitEvent.WorkerRecycled(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
        reason));
  }
}
