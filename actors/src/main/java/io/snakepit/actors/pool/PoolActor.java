package io.snakepit.actors.pool;

import akka.actor.DeadLetterSuppression;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.SnakepitException;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.Adoption;
import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.worker.WorkerActor;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Keeps a pool's workers: starts them (start-concurrency at a time), hands each call to the idle worker that has
 * waited longest, queues calls (up to a bound) while all are busy, replaces a worker whose process ended, pings them
 * in health rounds, and resizes at run time.
 *
 * <p>The pool's first start is all or nothing: if any worker fails to start, the pool stops the others and fails,
 * with that worker's error (and its stderr) as the reason.
 *
 * <p>One behaviour per phase over the shared {@link Coordinator}: waiting (for the node's settlement and the worker
 * supervisor) → starting ({@link StartingPhase}) → running ({@link RunningPhase}), or failed, and at last stopping
 * ({@link EndingPhase}).
 */
public final class PoolActor {

  private PoolActor() {}

  /** What a pool accepts. */
  public interface Command {}

  /** Run a call on some worker. */
  public record Submit(Job job) implements Command {}

  /** Complete the promise once every worker is up (or fail it if the pool cannot start). */
  public record AwaitReady(CompletableFuture<Void> promise) implements Command {}

  /**
   * Keep {@code workers} serving workers from now on: new ones start (start-concurrency at a time), surplus ones
   * finish their calls and stop. The promise completes with the number of ready serving workers once every new one
   * is ready and every retired one has ended; a later resize completes it when that one is done.
   */
  public record Resize(int workers, CompletableFuture<Integer> promise) implements Command {}

  /** Stop every worker, then complete the promise and stop. */
  public record Shutdown(CompletableFuture<Void> promise) implements Command {}

  /**
   * Recycle worker {@code workerId} (the node's health evaluation asks it): if it is still the ready worker of its
   * slot, it is told to, and goes the way of any recycled worker (it finishes its calls, a fresh one takes its slot,
   * {@code WorkerRecycled} says {@code reason}); otherwise nothing is done.
   */
  public record RecycleWorker(String workerId, String reason) implements Command {}

  /**
   * Complete the promise with how long ago session {@code session} was last used in this pool, in milliseconds, or
   * -1 if none of its workers holds the session (a cluster's session binding, started anew, asks every node).
   */
  public record SessionIdle(String session, CompletableFuture<Long> promise) implements Command {}

  /** The pool's worker supervisor is up (again): workers start under it. */
  public record WorkersUp(ActorRef<Supervisor.Command> workers) implements Command {}

  /** The coordinator's stop message (its supervisor's ordered shutdown): stop the workers left, then stop. */
  public enum Stop implements Command, DeadLetterSuppression { INSTANCE }

  /** What the worker template of the pool's worker supervisor is started with. */
  public record WorkerStart(Launch launch, ActorRef<WorkerActor.Event> events, Adoption adoption) {
    /** A fresh worker. */
    public WorkerStart(Launch launch, ActorRef<WorkerActor.Event> events) {
      this(launch, events, null);
    }
  }

  /** Start the workers: the node has settled what earlier JVMs left. */
  enum Begin implements Command { INSTANCE }

  /** Do not start: the node cannot run workers; calls fail with this error. */
  record Abort(SnakepitException error) implements Command {}

  /** The slots' states an earlier JVM journaled (by slot index), read after the settlement; then {@link Begin}. */
  record StatesLoaded(Map<Integer, byte[]> states, Throwable error) implements Command {}

  record WorkerStartReply(String workerId, Supervisor.Reply reply, Throwable error) implements Command {}

  record WorkersGone(ActorRef<Supervisor.Command> workers) implements Command {}

  record FromWorker(WorkerActor.Event event) implements Command {}

  /** A permit taken from the lane went unused (the worker's port refused the call) after its lease was revoked. */
  record PermitUnused(String workerId) implements Command {}

  record WorkerGone(String workerId) implements Command {}

  record Respawn(int slot) implements Command {}

  enum SweepQueue implements Command { INSTANCE }

  enum HealthRound implements Command { INSTANCE }

  enum SweepSessions implements Command { INSTANCE }

  record Retry(Job job) implements Command {}

  /**
   * A pool's coordinator: it publishes itself through {@code link}, and starts its workers under the worker
   * supervisor that announces itself ({@link WorkersUp}) once the node's settlement is done.
   */
  public static Behavior<Command> create(PoolSettings settings, PoolRuntime runtime, PoolLink link) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      ctx.setLoggerName(PoolActor.class); // the phases log under the pool's name, as operators filter it
      return new Coordinator(ctx, timers, settings, runtime, link).start();
    }));
  }
}
