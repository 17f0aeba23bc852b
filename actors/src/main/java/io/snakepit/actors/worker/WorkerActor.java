package io.snakepit.actors.worker;

import akka.actor.DeadLetterSuppression;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.WorkerStartException;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.SnapshotResponse;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.WorkerIdentity;
import java.time.Duration;
import java.util.List;

/**
 * One worker as an actor: its protocol, and {@link #create} which starts it. The actor owns the worker's shim, its
 * containment, the gRPC channel to its Python process and the calls in flight ({@link Worker}).
 *
 * <p>One behaviour per phase: starting ({@link StartingPhase}) → ready → stopping ({@link ServingPhase}); once the
 * tree is gone the containment is released, the pool told, and the actor waits for the pool's {@link Dispose} and
 * NuProcess's exit report ({@link EndingPhase}), so one actor is one process, start to end. The shim's lines and
 * exit, and gRPC completions, arrive on foreign threads and are only told to the actor.
 */
public final class WorkerActor {

  private WorkerActor() {}

  /** What a worker accepts. */
  public interface Command {}

  /** Run a call. The pool sends one only to a worker that reported itself ready or idle. */
  public record Execute(Job job) implements Command {}

  /**
   * Stop gracefully: calls in flight get the stop grace, then the whole tree is killed. A stop that reaches a worker
   * which already ended (its supervisor's shutdown raced its end) needs nothing done, and is not a dead letter.
   * {@code INSTANCE} is the pool's stop (a recycle, a resize); {@code WITH_SNAPSHOT} the worker supervisor's, as the
   * node stops: a ready worker whose adapter may keep state is first asked for a snapshot ({@code snapshot.on-stop}),
   * which its pool journals for the next start.
   */
  public enum Stop implements Command, DeadLetterSuppression { INSTANCE, WITH_SNAPSHOT }

  /**
   * The pool has taken note of this worker's exit and will send it nothing more: the actor ends once its process is
   * gone. Until then, calls that still arrive are bounced back to the pool rather than lost.
   */
  public enum Dispose implements Command { INSTANCE }

  /**
   * Be recycled for {@code reason} (its pool passes on the node's health evaluation): a ready worker is then due for
   * replacement as by its own recycle settings, once; a worker in another phase ignores it.
   */
  public record Recycle(String reason) implements Command {}

  /**
   * Take the adapter's state now ({@code snapshot()}): its pool asks a drained worker before replacing it. The answer
   * is a {@link StateTaken}, whatever happens (unless the process ends first: then its exit).
   */
  public enum TakeSnapshot implements Command { INSTANCE }

  /**
   * A planned restart's first step ({@code snakepit detach}): a ready worker stops taking calls, lets those in flight
   * end within the stop grace, has its shim listen for a next node ({@code window} once let go) and journals that.
   * Its lifeline is still whole: the JVM's death still takes the tree down. The answer is a {@link DetachOutcome}
   * ({@code kept}: prepared), whatever happens; {@link Leave} is the second step.
   */
  public record Detach(Duration window, ActorRef<DetachOutcome> replyTo) implements Command {}

  /**
   * A planned restart's second step, once every worker is prepared: the shim is let go (LEAVE) and waits for a next
   * node; from then on the actor's end leaves the tree running. The answer is a {@link DetachOutcome}.
   */
  public record Leave(ActorRef<DetachOutcome> replyTo) implements Command {}

  /** How a {@link Detach} or {@link Leave} went: {@code kept} when it did; {@code detail} says where or why not. */
  public record DetachOutcome(String workerId, boolean kept, String detail) {}

  enum DetachDeadline implements Command { INSTANCE }

  record DetachJournaled(Throwable error) implements Command {}

  /** What a worker tells its pool. */
  public sealed interface Event {
    String workerId();
  }

  /**
   * The worker is serving; it takes calls from now on. {@code port}: where the pool starts its one-result calls
   * itself ({@link WorkerPort}), null when they all go as {@link Execute}.
   */
  public record Ready(String workerId, WorkerIdentity identity, ActorRef<Command> worker, WorkerPort port)
      implements Event {}

  /** A call finished; the worker can take another. {@code failed}: it failed for the worker's fault, not the tool's. */
  public record Idle(String workerId, boolean failed) implements Event {}

  /** The worker never became ready; its tree is gone. */
  public record StartFailed(String workerId, WorkerStartException error) implements Event {}

  /**
   * The worker's process ended after it was ready; {@code requested} is true when it was told to stop.
   * {@code duringCall}: it died while serving calls (the likely cause is a call, not the worker), rather than idle
   * or killed by its pool for missed pings. {@code retry} holds the idempotent calls it was running when it crashed,
   * for the pool to run again elsewhere.
   */
  public record Exited(String workerId, String status, boolean requested, boolean duringCall, List<Job> retry)
      implements Event {}

  /** A call reached the worker after its process had ended; it never ran, and goes back to the pool. */
  public record Bounced(String workerId, Job job) implements Event {}

  /** The worker is due for replacement (calls, age, memory or health); it still serves the calls it has. */
  public record RecycleDue(String workerId, String reason) implements Event {}

  /**
   * The adapter's state as its {@code snapshot()} returned it (UTF-8 JSON), or null when none was taken:
   * {@code supported} false when the adapter defines no snapshot, else it failed (the worker said why: a
   * {@code SnapshotFailed} event and its log).
   */
  public record StateTaken(String workerId, byte[] state, boolean supported) implements Event {}

  record FromShim(ShimEvent event) implements Command {}

  record ShimExited(int nuProcessCode) implements Command {}

  record CallFinished(long callId, ExecuteResponse last, Throwable error) implements Command {}

  record TransportGraceOver(long callId) implements Command {}

  record CancelCall(long callId) implements Command {}

  record PingAnswered(boolean ok, String why) implements Command {}

  /** The containment is ready; these cgroups go into the reservation. */
  record Prepared(List<String> cgroups) implements Command {}

  /** The worker could not be contained as its pool's isolation asks (no cgroup, no systemd, no runc...). */
  record Refused(RuntimeException error) implements Command {}

  record Reserved(Throwable error) implements Command {}

  record Journaled(Throwable error) implements Command {}

  record Released(Throwable error) implements Command {}

  enum LimitTick implements Command { INSTANCE }

  /** Take a snapshot: every snapshot.interval while serving. */
  enum SnapshotTick implements Command { INSTANCE }

  /** The worker answered a snapshot ({@code response}), or did not ({@code error}). */
  record SnapshotAnswered(SnapshotResponse response, Throwable error) implements Command {}

  /** Ping the worker now, unless it answered a call since the last tick: sent by its pool's health rounds. */
  public enum HealthTick implements Command { INSTANCE }

  enum RecycleTick implements Command { INSTANCE }

  enum StartDeadline implements Command { INSTANCE }

  enum StopDeadline implements Command { INSTANCE }

  enum ExitOverdue implements Command { INSTANCE }

  /** Messages held while the containment is released, and a {@code Dispose} that came before the end (a handful). */
  private static final int STASH_CAPACITY = 10_000;

  /**
   * A worker actor: it prepares its containment (on the blocking dispatcher), journals the worker, then starts its
   * shim.
   *
   * @param launch what to start
   * @param pool where to report
   * @param connections opens the gRPC channel and the calls socket to a ready worker
   * @param journal where the worker's identity is written before it is used
   * @param roster where the worker is listed while ready, for a planned restart to find it
   */
  public static Behavior<Command> create(Launch launch, ActorRef<Event> pool,
      WorkerConnections connections, WorkerJournal journal, WorkerRoster roster) {
    return create(launch, pool, connections, journal, roster, null);
  }

  /**
   * A worker actor for {@code adoption}, a worker a planned restart left running (null: a fresh worker, as above):
   * it journals the adoption, health-checks the worker, then reports it ready; nothing is contained or spawned.
   */
  public static Behavior<Command> create(Launch launch, ActorRef<Event> pool,
      WorkerConnections connections, WorkerJournal journal, WorkerRoster roster, Adoption adoption) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> Behaviors.withStash(STASH_CAPACITY, stash -> {
      Worker worker = new Worker(ctx, timers, stash, launch, pool, connections, journal, roster);
      return adoption == null ? worker.start() : worker.starting.adopt(adoption);
    })));
  }
}
