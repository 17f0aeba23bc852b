package io.snakepit.actors.worker;

import java.time.Duration;

/**
 * Every deadline of a worker's stop, in one place, so that the margins that depend on each other have one name each.
 *
 * <p>The timeline after {@code Stop}: the calls in flight get the pool's stop grace; the shim is told
 * {@code STOP <shimGrace>} and kills the tree {@link #SHIM_MARGIN} after the grace; the actor kills the shim itself
 * and sweeps its session {@link #KILL_MARGIN} after that; it gives up on NuProcess's exit report
 * {@link #SWEEP_MARGIN} later. The supervisor's shutdown spec for a worker is that last moment, and its pool's
 * coordinator gets {@link #POOL_MARGIN} more. A stopped node's JVM is gone {@link #NODE_MARGIN} after the grace: the
 * margins are short enough to leave a second of it for the journal's last writes and close.
 *
 * <p>A node's planned stop first asks a worker whose adapter may keep state for a snapshot ({@code snapshot.on-stop}),
 * within {@code snapshot.timeout}; the timeline after {@code Stop} begins once it is answered, so the supervisor's and
 * the node's deadlines count that time too.
 *
 * @param stopGrace the pool's stop grace: how long calls in flight get to finish
 * @param snapshot how long a stop may spend on the adapter's snapshot first (zero: none is taken)
 */
public record StopTimeline(Duration stopGrace, Duration snapshot) {

  /** A timeline without a snapshot at the stop. */
  public StopTimeline(Duration stopGrace) {
    this(stopGrace, Duration.ZERO);
  }

  /** After the stop grace, the shim's margin before it SIGKILLs the tree (Python's own hard deadline fits in it). */
  public static final Duration SHIM_MARGIN = Duration.ofMillis(1500);
  /**
   * After the shim's deadline, how long the actor waits for its exit before killing the shim and its session (the tree
   * is killed either way; only the exit status would be lost).
   */
  public static final Duration KILL_MARGIN = Duration.ofSeconds(1);
  /** After killing the shim, how long the actor waits for NuProcess's exit report before giving up on it. */
  public static final Duration SWEEP_MARGIN = Duration.ofSeconds(1);
  /** How long a call that failed in transport waits for the process's exit status, so its caller learns why. */
  public static final Duration TRANSPORT_GRACE = Duration.ofSeconds(3);
  /** How much longer than its workers a pool's coordinator gets to stop (it waits for their exits). */
  public static final Duration POOL_MARGIN = Duration.ofMillis(500);
  /**
   * How long after the stop grace a node's JVM may take to be gone when it is stopped (SIGTERM, SIGINT), at any
   * moment: the pools' {@link #poolShutdown()}, then the registry's last writes, the journal's close and the actor
   * system's end must fit in it.
   */
  public static final Duration NODE_MARGIN = Duration.ofSeconds(5);

  /** The timeline of a pool's workers. */
  public static StopTimeline of(WorkerSettings settings) {
    return new StopTimeline(settings.stopGrace(),
        settings.snapshot().onStop() ? settings.snapshot().timeout() : Duration.ZERO);
  }

  /** The shim's grace before SIGKILL ({@code STOP <ms>}): the stop grace plus the shim's margin. */
  public Duration shimGrace() {
    return stopGrace.plus(SHIM_MARGIN);
  }

  /** From the shim's {@code STOP}, when the actor kills a shim that has not exited. */
  public Duration killShimAfter() {
    return shimGrace().plus(KILL_MARGIN);
  }

  /**
   * From {@code Stop}, when the actor gives up on the exit report and ends: the supervisor's shutdown timeout for a
   * worker, after which it stops the actor outright (the shim then takes the tree down on stdin EOF).
   */
  public Duration workerShutdown() {
    return snapshot.plus(killShimAfter()).plus(SWEEP_MARGIN);
  }

  /** The supervisor's shutdown timeout for the pool's coordinator, which waits for its workers. */
  public Duration poolShutdown() {
    return workerShutdown().plus(POOL_MARGIN);
  }

  /** By when a stopped node's JVM is gone, at the latest: the stop grace plus {@link #NODE_MARGIN}. */
  public Duration nodeStop() {
    return snapshot.plus(stopGrace).plus(NODE_MARGIN);
  }
}
