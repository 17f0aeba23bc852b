package io.snakepit;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * What happened in a node: one type for the whole lifecycle of its workers, calls and pools, and for what its start
 * settled. Every event is published on the actor system's event stream; subscribe to {@code SnakepitEvent.class} for
 * all of them, or to one record for one kind. The catalog, with when each is emitted, is docs/EVENTS.md.
 *
 * <p>Worker ids are those of the logs and the journal ({@code pool-slot-generation}); pids are the host's.
 */
public sealed interface SnakepitEvent {
  /** When it happened. */
  Instant time();

  /** The node's instance name (snakepit.instance). */
  String instance();

  /** How a call a worker ran ended. */
  enum Outcome {
    /** It returned a value. */
    OK,
    /** The tool raised, or its arguments or result were refused: the worker is fine. */
    ERROR,
    /** Its deadline passed. */
    TIMEOUT,
    /** Its caller cancelled it. */
    CANCELLED,
    /** The worker failed it: its process died or its channel broke. */
    FAILED
  }

  /** A worker is journaled as reserved (before anything is spawned, so a crash from now on leaves a trace). */
  record WorkerReserved(Instant time, String instance, String pool, String worker) implements SnakepitEvent {}

  /** A worker's shim was started (its Python follows); {@code shimPid} is the shim's process. */
  record WorkerSpawned(Instant time, String instance, String pool, String worker, int shimPid)
      implements SnakepitEvent {}

  /**
   * A worker's identity is journaled and it takes calls: its Python process {@code pid} (leading process group
   * {@code pgid}), its shim, the host's boot id, and how long it took from the start of its actor.
   */
  record WorkerReady(Instant time, String instance, String pool, String worker, int pid, int pgid, int shimPid,
      String bootId, Duration startTook) implements SnakepitEvent {}

  /**
   * A planned restart let a ready worker go ({@code snakepit detach}): its tree waits for the next node until
   * {@code until}, its shim listening at {@code controlSocket}.
   */
  record WorkerDetached(Instant time, String instance, String pool, String worker, int pid, int shimPid,
      String controlSocket, Instant until) implements SnakepitEvent {}

  /**
   * This node took over a worker an earlier JVM of its instance left waiting (a planned restart), after checking it;
   * {@code WorkerReady} follows once it answered a ping.
   */
  record WorkerAdopted(Instant time, String instance, String pool, String worker, int pid, int shimPid)
      implements SnakepitEvent {}

  /**
   * A worker's process tree is gone. {@code reason}: stopped (its pool or node asked), start-failed (it never became
   * ready), or how it died: exited, killed, segfault, aborted, signaled, memory-limit, pids-limit, or lost (its shim
   * died too); {@code status} says it in words; {@code pid} is 0 when it never got as far as a Python process.
   */
  record WorkerExited(Instant time, String instance, String pool, String worker, int pid, int shimPid, String reason,
      String status, boolean duringCall) implements SnakepitEvent {}

  /**
   * A worker is due for replacement ({@code reason}: calls, age, memory, or a health score below
   * {@code recycle.min-health}); it finishes the calls it has.
   */
  record WorkerRecycled(Instant time, String instance, String pool, String worker, String reason)
      implements SnakepitEvent {}

  /**
   * A slot's workers keep dying without a call ({@code crashes} within the pool's taint window): its next worker
   * starts only after {@code backoff}.
   */
  record WorkerTainted(Instant time, String instance, String pool, String worker, int slot, int crashes,
      Duration backoff) implements SnakepitEvent {}

  /**
   * Worker {@code worker}'s slot is served by {@code replacement} now, or will be once it starts; {@code why}:
   * recycled, crashed, or spare (a ready spare took over a slot still starting its own replacement).
   */
  record WorkerReplaced(Instant time, String instance, String pool, String worker, String replacement, String why)
      implements SnakepitEvent {}

  /**
   * Worker {@code worker}'s output went past its pool's rate limit ({@code output-rate}): {@code lines} lines of its
   * stdout and stderr (and forwarded log records) were dropped since the last such event, at most one per
   * {@code output-dropped-report} interval.
   */
  record OutputDropped(Instant time, String instance, String pool, String worker, long lines)
      implements SnakepitEvent {}

  /**
   * The pool now keeps {@code bytes} of state that worker {@code worker}'s adapter gave in its {@code snapshot()}: the
   * state a replacement of its slot's worker gets in {@code restore(state)}.
   */
  record StateSaved(Instant time, String instance, String pool, String worker, long bytes) implements SnakepitEvent {}

  /** Worker {@code worker}'s snapshot was not kept ({@code reason}); its slot keeps the one before, if any. */
  record SnapshotFailed(Instant time, String instance, String pool, String worker, String reason)
      implements SnakepitEvent {}

  /** Worker {@code worker} started with the {@code bytes} of state its slot's last worker left, and is ready. */
  record StateRestored(Instant time, String instance, String pool, String worker, long bytes)
      implements SnakepitEvent {}

  /** Worker {@code worker} took call {@code callId} after it waited {@code queued} in the pool. */
  record CallStarted(Instant time, String instance, String pool, String worker, long callId, String tool,
      Duration queued) implements SnakepitEvent {}

  /** Call {@code callId} on worker {@code worker} ended: how, and {@code took} since the worker took it. */
  record CallEnded(Instant time, String instance, String pool, String worker, long callId, String tool,
      Outcome outcome, Duration took) implements SnakepitEvent {}

  /** Every worker of the pool is ready: it serves calls from now on. */
  record PoolReady(Instant time, String instance, String pool, int workers, int spares) implements SnakepitEvent {}

  /**
   * The pool refused a call because every worker was busy and {@code queued} calls waited, its bound; once per burst:
   * the next comes after a call was taken again.
   */
  record PoolSaturated(Instant time, String instance, String pool, int queued) implements SnakepitEvent {}

  /** The pool's circuit opened after {@code failuresInARow}: calls fail at once for {@code reset}. */
  record CircuitOpened(Instant time, String instance, String pool, int failuresInARow, Duration reset, String why)
      implements SnakepitEvent {}

  /** The pool's circuit closed again: its probe call succeeded. */
  record CircuitClosed(Instant time, String instance, String pool) implements SnakepitEvent {}

  /**
   * The start settled a worker an earlier JVM of this instance left: {@code settlement} says how (killed; exited: it
   * was gone already; rebooted: journaled under another boot), {@code processes} which live processes were signalled.
   */
  record OrphanSettled(Instant time, String instance, String worker, int pid, String settlement,
      List<Integer> processes, String detail) implements SnakepitEvent {
    public OrphanSettled {
      processes = List.copyOf(processes);
    }
  }

  /** The start found a recorded pid that now belongs to another process, and left that process alone. */
  record ImpostorSkipped(Instant time, String instance, String worker, int pid, List<String> why)
      implements SnakepitEvent {
    public ImpostorSkipped {
      why = List.copyOf(why);
    }
  }

  /** The journal itself was damaged, rolled back or recreated at the start; {@code what} names the file. */
  record JournalDamaged(Instant time, String instance, String what) implements SnakepitEvent {}
}
