package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.WorkerCallException;
import io.snakepit.SnakepitEvent;
import io.snakepit.WorkerCrashedException;
import io.snakepit.actors.Events;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.actors.worker.WorkerActor.Dispose;
import io.snakepit.actors.worker.WorkerActor.Event;
import io.snakepit.actors.worker.WorkerActor.Execute;
import io.snakepit.actors.worker.WorkerActor.FromShim;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.WorkerIdentity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * One worker actor's collaborators and the facts it learns on the way (its shim, its identity, its channel), shared
 * by its phases ({@link StartingPhase}, {@link ServingPhase}, {@link EndingPhase}), with the handlers every phase
 * uses. Used on the actor's thread only.
 */
final class Worker {
  /** The dispatcher for blocking work (reference.conf documents it). */
  static final String BLOCKING_DISPATCHER = "snakepit.blocking-dispatcher";
  /** How long after its work falls due the output's tick comes (drops to report, lines to flush). */
  private static final Duration OUTPUT_TICK = Duration.ofSeconds(1);

  final ActorContext<Command> context;
  final TimerScheduler<Command> timers;
  final StashBuffer<Command> stash;
  final Launch launch;
  final String id;
  final ActorRef<Event> pool;
  final WorkerConnections connections;
  final WorkerJournal journal;
  final WorkerRoster roster;
  /** How the pool's isolation mode contains it; chosen once. */
  final Containment containment;
  /**
   * Where the containment's prepare and release run (cgroup creation and removal, OCI bundles, runc deletes):
   * never the actor's thread nor the common pool. Short reads of /proc and cgroup counters stay on the actor.
   */
  final Executor blocking;
  final StopTimeline timeline;
  /** Python's stdout and stderr, taken on the shim's reading thread (never through the mailbox). */
  final WorkerOutput output;
  final StartDiagnosis diagnosis;
  final InFlightCalls calls;
  final StartingPhase starting;
  final ServingPhase serving;
  final EndingPhase ending;
  final DetachingPhase detaching;
  /** Set at spawn. */
  ShimProcess shim;
  /** Set by the shim's READY line. */
  WorkerIdentity identity;
  /** Set once ready. */
  WorkerChannel channel;
  /** Set once ready. */
  Upkeep upkeep;
  /** Set once ready, unless every call takes the long way (call-channel = unary, recycle.max-rss set). */
  WorkerPort port;
  /** The limit the kernel counted a hit of, once one was (the worker is then killed). */
  LimitHit limitHit;
  /** How its calls fail if it crashes: LOST until the shim reports how the worker ended. */
  WorkerCrashedException.Reason crashReason = WorkerCrashedException.Reason.LOST;
  /** Where its lifecycle and calls are published. */
  final Events events;
  /** When its actor started (System.nanoTime), for how long it took to be ready. */
  final long began = System.nanoTime();

  Worker(ActorContext<Command> context, TimerScheduler<Command> timers, StashBuffer<Command> stash, Launch launch,
      ActorRef<Event> pool, WorkerConnections connections, WorkerJournal journal, WorkerRoster roster) {
    this.context = context;
    this.timers = timers;
    this.stash = stash;
    this.launch = launch;
    this.id = launch.workerId();
    this.pool = pool;
    this.connections = connections;
    this.journal = journal;
    this.roster = roster;
    this.events = Events.of(context.getSystem());
    this.containment = Containment.of(launch);
    this.blocking = context.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(BLOCKING_DISPATCHER));
    this.timeline = StopTimeline.of(launch.settings());
    // Captured here, on the actor's thread: the output asks for its ticks from the thread that reads the shim.
    akka.actor.typed.Scheduler scheduler = context.getSystem().scheduler();
    scala.concurrent.ExecutionContextExecutor executor = context.getExecutionContext();
    this.output = new WorkerOutput(id, launch.pool(), launch.settings().output(), launch.settings().stderrTail(),
        launch.socket().getParent(), task -> {
          try {
            scheduler.scheduleOnce(OUTPUT_TICK, task, executor);
          } catch (IllegalStateException stopping) {
            // The actor system is going down; the actor's stop closes the output, which does the last of its work.
          }
        }, lines -> events.publish(new SnakepitEvent.OutputDropped(Instant.now(), events.instance(), launch.pool(),
            id, lines)));
    this.diagnosis = new StartDiagnosis(id, launch.settings(), output.stderrTail());
    this.calls = new InFlightCalls(id, launch.settings().callTimeout());
    this.starting = new StartingPhase(this);
    this.serving = new ServingPhase(this);
    this.ending = new EndingPhase(this);
    this.detaching = new DetachingPhase(this);
  }

  /** Publishes that the worker's tree is gone: {@code reason} as {@link SnakepitEvent.WorkerExited} lists them. */
  void publishExit(String reason, String status, boolean duringCall) {
    events.publish(new SnakepitEvent.WorkerExited(Instant.now(), events.instance(), launch.pool(), id,
        identity == null ? 0 : identity.pid(), shim == null ? 0 : shim.pid(), reason, status, duringCall));
  }

  /** Starts containing the worker; its first behaviour. */
  Behavior<Command> start() {
    return starting.begin();
  }

  /** A receive that ends, whatever the phase, by closing what the actor holds. */
  BehaviorBuilder<Command> receive() {
    return Behaviors.receive(Command.class).onSignal(PostStop.class, signal -> onPostStop());
  }

  /** A call reached the worker after its process ended (or while it stops): back to the pool, it never ran. */
  Behavior<Command> bounce(Execute msg) {
    pool.tell(new WorkerActor.Bounced(id, msg.job()));
    return Behaviors.same();
  }

  /** The pool's Dispose is kept until the exit is reported, then acted on. */
  Behavior<Command> holdDispose() {
    stash.stash(Dispose.INSTANCE);
    return Behaviors.same();
  }

  /** Whether a snapshot is on its way (one at a time). */
  boolean snapshotInFlight;
  /** Its adapter said it defines no snapshot(): a stop asks for none. */
  boolean stateless;
  /** Stopping once the snapshot on its way is answered (the node's stop, {@code Stop.WITH_SNAPSHOT}). */
  boolean stopAfterSnapshot;

  /**
   * Writes the state to restore where the worker reads it (--restore-state), readable by this user only; on the
   * blocking dispatcher, before the spawn.
   */
  void writeRestoreState() {
    byte[] state = launch.restoreState();
    if (state == null) {
      return;
    }
    Path file = launch.stateFile();
    try (SeekableByteChannel out = Files.newByteChannel(file, Set.of(StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
      out.write(ByteBuffer.wrap(state));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the state to restore into worker " + id + " to " + file + ": "
          + e.getMessage() + ". Check the run directory (snakepit.run-dir)", e);
    }
  }

  /** The state to restore was read (the worker is ready) or is no longer needed (it is gone). */
  void removeRestoreState() {
    if (launch.restoreState() != null) {
      try {
        Files.deleteIfExists(launch.stateFile());
      } catch (IOException e) {
        context.getLog().warn("worker {}: cannot remove {}: {}", id, launch.stateFile(), e.getMessage());
      }
    }
  }

  /** The worker stops serving (told to stop, or its process ended): calls start and end only here from now on. */
  void closePort() {
    if (port != null) {
      port.close();
    }
  }

  /** A limit was reached: the worker is killed (its state is unknown) and its end says which limit. */
  Behavior<Command> onLimitTick() {
    checkLimits();
    if (limitHit != null) {
      timers.cancel(WorkerActor.LimitTick.INSTANCE);
      context.getLog().warn("worker {}: {}; killing it", id, limitHit.message());
      shim.send("KILL");
    }
    return Behaviors.same();
  }

  /** Reads the limit counters, once no hit is known yet. */
  void checkLimits() {
    if (limitHit == null) {
      containment.limited().flatMap(c -> LimitHit.of(c.counters(), launch.settings().isolation().limits()))
          .ifPresent(hit -> limitHit = hit);
    }
  }

  /**
   * A line from the shim (READY is the starting phase's; Python's output never comes here, see {@link WorkerOutput}).
   * {@code exited}: what follows the EXIT line (the whole tree is gone) once the containment is released, given how
   * the worker ended.
   */
  Behavior<Command> onShimEvent(FromShim msg, Function<String, Behavior<Command>> exited) {
    ShimEvent event = msg.event();
    if (event instanceof ShimEvent.ExecFailed failed) {
      diagnosis.execFailed(failed);
    } else if (event instanceof ShimEvent.ShimError error) {
      diagnosis.stderr("snakepit-shim: " + error.message());
      context.getLog().warn("worker {}: shim error: {}", id, error.message());
    } else if (event instanceof ShimEvent.Exit exit) {
      return ending.onExitLine(exit.status(), exited);
    } else if (event instanceof ShimEvent.Unknown unknown) {
      context.getLog().warn("worker {}: unexpected line from the shim: {}", id, unknown.line());
    }
    return Behaviors.same();
  }

  private Behavior<Command> onPostStop() {
    roster.remove(id);
    closePort();
    removeRestoreState();
    output.close();
    if (shim != null && !detaching.left()) {
      // Stopped without a Stop (the actor system is going down): the shim takes the tree down on stdin EOF.
      shim.closeLifeline();
    }
    if (channel != null) {
      channel.shutdownNow();
    }
    calls.failAll(() -> new WorkerCallException("worker " + id + " was stopped", null));
    return Behaviors.same();
  }

  /** The error a future failed with, without CompletableFuture's wrapper. */
  static RuntimeException unwrap(Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    return cause instanceof RuntimeException r ? r : new IllegalStateException(cause.getMessage(), cause);
  }
}
