package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.SnakepitEvent;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerStartException;
import io.snakepit.actors.worker.WorkerActor.Command;
import io.snakepit.actors.worker.WorkerActor.Dispose;
import io.snakepit.actors.worker.WorkerActor.Execute;
import io.snakepit.actors.worker.WorkerActor.FromShim;
import io.snakepit.actors.worker.WorkerActor.Journaled;
import io.snakepit.actors.worker.WorkerActor.LimitTick;
import io.snakepit.actors.worker.WorkerActor.Prepared;
import io.snakepit.actors.worker.WorkerActor.Refused;
import io.snakepit.actors.worker.WorkerActor.Reserved;
import io.snakepit.actors.worker.WorkerActor.ShimExited;
import io.snakepit.actors.worker.WorkerActor.StartDeadline;
import io.snakepit.actors.worker.WorkerActor.Stop;
import io.snakepit.persistence.FaultInjection;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.WorkerIdentity;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A worker's start: contained (on the blocking dispatcher), reserved in the journal, spawned, then READY and its
 * identity durable, after which it is ready. Also what ends a start that fails.
 */
final class StartingPhase {
  /** How long an adopted worker has to be journaled and answer its ping. */
  private static final Duration ADOPT_DEADLINE = Duration.ofSeconds(15);
  /** The adopted worker's ping's own deadline. */
  private static final Duration ADOPT_PING = Duration.ofSeconds(10);
  /** How often a limited worker's cgroup counters are read. */
  private static final Duration LIMIT_CHECK = Duration.ofMillis(250);

  private final Worker w;

  StartingPhase(Worker worker) {
    this.w = worker;
  }

  /** Prepares the containment, then the rest follows by messages. */
  Behavior<Command> begin() {
    w.context.pipeToSelf(CompletableFuture.supplyAsync(() -> {
          w.writeRestoreState();
          return w.containment.prepare();
        }, w.blocking),
        (cgroups, error) -> error == null ? new Prepared(cgroups) : new Refused(Worker.unwrap(error)));
    return behavior();
  }

  private Behavior<Command> behavior() {
    return w.receive()
        .onMessage(Prepared.class, this::onPrepared)
        .onMessage(Refused.class, this::onRefused)
        .onMessage(Reserved.class, msg -> msg.error() != null ? reserveFailed(msg) : spawn())
        .onMessage(FromShim.class, msg -> msg.event() instanceof ShimEvent.Ready, this::onReadyLine)
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, this::startEnded))
        .onMessage(Journaled.class, this::onJournaled)
        .onMessageEquals(StartDeadline.INSTANCE, this::onStartDeadline)
        .onMessageEquals(LimitTick.INSTANCE, w::onLimitTick)
        .onMessage(ShimExited.class, msg -> w.ending.onShimDied(msg, this::startFailed))
        .onMessage(Execute.class, msg -> {
          msg.job().fail(new WorkerCallException("worker " + w.id + " is starting and cannot take calls", null));
          return Behaviors.same();
        })
        .onMessageEquals(Stop.INSTANCE, w.serving::onStop)
        .onMessageEquals(Stop.WITH_SNAPSHOT, w.serving::onStop) // not ready: no state to take
        .onMessageEquals(Dispose.INSTANCE, w::holdDispose)
        .build();
  }

  Behavior<Command> onPrepared(Prepared msg) {
    // The reservation is durable before the process exists, so a crash at any later point leaves a trace.
    w.context.pipeToSelf(w.journal.reserve(w.launch.nonce(), w.id, msg.cgroups()),
        (done, error) -> new Reserved(error));
    return Behaviors.same();
  }

  Behavior<Command> onRefused(Refused msg) {
    w.pool.tell(new WorkerActor.StartFailed(w.id, new WorkerStartException("worker " + w.id + " cannot start in"
        + " isolation mode '" + w.launch.settings().isolation().mode().configName() + "': "
        + msg.error().getMessage(), List.of())));
    return Behaviors.stopped();
  }

  /** The reservation failed (also while stopping): nothing was spawned; the prepared containment is released. */
  Behavior<Command> reserveFailed(Reserved msg) {
    WorkerStartException error = new WorkerStartException("cannot journal worker " + w.id
        + " before starting it: " + msg.error().getMessage() + ". Check the registry's database"
        + " (snakepit.registry.db)", List.of());
    return w.ending.releasing(() -> {
      w.pool.tell(new WorkerActor.StartFailed(w.id, error));
      return Behaviors.stopped();
    });
  }

  private Behavior<Command> spawn() {
    w.events.publish(new SnakepitEvent.WorkerReserved(Instant.now(), w.events.instance(), w.launch.pool(), w.id));
    FaultInjection.haltIfAsked("after-reserve");
    ActorRef<Command> self = w.context.getSelf();
    w.shim = ShimProcess.start(w.launch.command(w.containment), w.launch.environment(),
        event -> self.tell(new FromShim(event)), w.output, code -> self.tell(new ShimExited(code)));
    if (!w.shim.started()) {
      self.tell(new ShimExited(Integer.MIN_VALUE));
    } else {
      w.events.publish(new SnakepitEvent.WorkerSpawned(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
          w.shim.pid()));
    }
    w.timers.startSingleTimer(StartDeadline.INSTANCE, w.launch.settings().startTimeout());
    if (w.containment.limited().isPresent()) {
      w.timers.startTimerWithFixedDelay(LimitTick.INSTANCE, LIMIT_CHECK);
    }
    w.context.getLog().debug("worker {} starting: shim pid {}", w.id, w.shim.pid());
    return Behaviors.same();
  }

  /** The shim's READY line: the identity is journaled before the worker is routable. */
  private Behavior<Command> onReadyLine(FromShim msg) {
    if (w.identity != null) {
      return Behaviors.same();
    }
    WorkerIdentity ready = ((ShimEvent.Ready) msg.event()).identity();
    w.identity = ready;
    FaultInjection.haltIfAsked("before-spawned-write");
    SpawnedWorker spawned = new SpawnedWorker(ready, w.launch.socket().toString());
    // Routable only once its identity is durable: a JVM that dies now leaves a journal that names this tree.
    w.context.pipeToSelf(w.journal.spawned(w.launch.nonce(), spawned), (done, error) -> new Journaled(error));
    return Behaviors.same();
  }

  private Behavior<Command> onJournaled(Journaled msg) {
    if (msg.error() != null) {
      w.context.getLog().error("{}; killing it", w.diagnosis.journalFailed(msg.error()));
      w.shim.send("KILL");
      return Behaviors.same();
    }
    w.timers.cancel(StartDeadline.INSTANCE);
    openChannel();
    return becomeReady();
  }

  /** The gRPC channel and (multiplexed) the calls socket to the worker. */
  private void openChannel() {
    WorkerSettings settings = w.launch.settings();
    int limit = settings.maxMessageSize();
    w.channel = new WorkerChannel(w.connections.channel(w.launch.socket().toString(), limit),
        settings.callChannel() == WorkerSettings.CallChannel.MULTIPLEXED
            ? receiver -> w.connections.callSocket(w.launch.callsSocket().toString(), limit, receiver)
            : null);
  }

  /** The worker's identity is durable and its channel open: it serves from now on. */
  private Behavior<Command> becomeReady() {
    WorkerSettings settings = w.launch.settings();
    WorkerIdentity ready = w.identity;
    w.upkeep = new Upkeep(settings.health(), settings.recycle(), System.nanoTime(),
        () -> ProcStat.residentBytes(ready.pid()));
    if (w.upkeep.ticks()) {
      w.timers.startTimerWithFixedDelay(WorkerActor.RecycleTick.INSTANCE, Duration.ofSeconds(1));
    }
    if (!settings.snapshot().interval().isZero()) {
      w.timers.startTimerWithFixedDelay(WorkerActor.SnapshotTick.INSTANCE, settings.snapshot().interval());
    }
    w.context.getLog().debug("worker {} ready: python pid {}, shim pid {}", w.id, ready.pid(), ready.shimPid());
    if (w.channel.multiplexing() && !w.upkeep.readsMemoryPerCall()) {
      w.port = new WorkerPort(w);
    }
    // In the roster before the pool hears of it: whoever sees the pool ready (then detaches) finds this worker.
    w.roster.add(w.id, w.context.getSelf());
    w.pool.tell(new WorkerActor.Ready(w.id, ready, w.context.getSelf(), w.port));
    w.events.publish(new SnakepitEvent.WorkerReady(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
        ready.pid(), ready.pgid(), ready.shimPid(), ready.bootId(), Duration.ofNanos(System.nanoTime() - w.began)));
    if (w.launch.restoreState() != null) {
      w.removeRestoreState();
      w.events.publish(new SnakepitEvent.StateRestored(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
          w.launch.restoreState().length));
    }
    return w.serving.ready();
  }

  /**
   * A worker a planned restart left running, attached to by the node ({@link Adoption}): its shim's connection
   * becomes this actor's lifeline, the journal takes the worker back as this node's, a ping must be answered, then it
   * is ready as a started one is. Nothing is contained, reserved or spawned; a worker that fails a step is killed
   * and reported as ended, so that its slot starts a fresh one.
   */
  Behavior<Command> adopt(Adoption adoption) {
    ActorRef<Command> self = w.context.getSelf();
    w.identity = adoption.identity();
    w.containment.adopt(adoption.cgroups());
    if (w.containment.limited().isPresent()) {
      w.timers.startTimerWithFixedDelay(LimitTick.INSTANCE, LIMIT_CHECK);
    }
    w.shim = ShimProcess.adopt(adoption.connection(), adoption.identity(), event -> self.tell(new FromShim(event)),
        w.output, code -> self.tell(new ShimExited(code)));
    w.events.publish(new SnakepitEvent.WorkerAdopted(Instant.now(), w.events.instance(), w.launch.pool(), w.id,
        w.identity.pid(), w.identity.shimPid()));
    w.timers.startSingleTimer(StartDeadline.INSTANCE, ADOPT_DEADLINE);
    w.context.pipeToSelf(w.journal.adopted(w.launch.nonce()), (done, error) -> new Journaled(error));
    return w.receive()
        .onMessage(Journaled.class, msg -> {
          if (msg.error() != null) {
            return adoptionFailed("the journal did not take it back: " + Worker.unwrap(msg.error()).getMessage()
                + ". Check the registry's database (snakepit.registry.db)");
          }
          openChannel();
          w.channel.ping(ADOPT_PING, (ok, why) -> self.tell(new WorkerActor.PingAnswered(ok, why)));
          return Behaviors.same();
        })
        .onMessage(WorkerActor.PingAnswered.class, msg -> {
          if (!msg.ok()) {
            return adoptionFailed("it did not answer a ping: " + msg.why());
          }
          w.timers.cancel(StartDeadline.INSTANCE);
          w.context.getLog().info("worker {} adopted: python pid {}, shim pid {}", w.id, w.identity.pid(),
              w.identity.shimPid());
          return becomeReady();
        })
        .onMessageEquals(LimitTick.INSTANCE, w::onLimitTick)
        .onMessageEquals(StartDeadline.INSTANCE, () -> adoptionFailed("not checked within "
            + ADOPT_DEADLINE.toSeconds() + " s"))
        .onMessage(FromShim.class, msg -> w.onShimEvent(msg, status -> w.ending.reportExit(status, false)))
        .onMessage(ShimExited.class, msg -> w.ending.onShimDied(msg, status -> w.ending.reportExit(status, false)))
        .onMessage(Execute.class, msg -> {
          msg.job().fail(new WorkerCallException("worker " + w.id + " is being adopted and cannot take calls", null));
          return Behaviors.same();
        })
        .onMessageEquals(Stop.INSTANCE, w.serving::onStop)
        .onMessageEquals(Stop.WITH_SNAPSHOT, w.serving::onStop)
        .onMessageEquals(Dispose.INSTANCE, w::holdDispose)
        .build();
  }

  /** An adopted worker failed a check: its tree is killed; its end is reported as a crash, and its slot restarts. */
  private Behavior<Command> adoptionFailed(String why) {
    w.context.getLog().warn("worker {}: adopted after the planned restart, but {}; killing its tree", w.id, why);
    w.timers.cancel(StartDeadline.INSTANCE);
    w.shim.send("KILL");
    return Behaviors.same();
  }

  private Behavior<Command> onStartDeadline() {
    w.diagnosis.timedOut();
    w.context.getLog().warn("worker {} not ready after {}: killing its tree", w.id,
        w.launch.settings().startTimeout());
    w.shim.send("KILL");
    return Behaviors.same();
  }

  /** The exit line came before the worker was ready: the start failed once NuProcess reports the exit. */
  private Behavior<Command> startEnded(String status) {
    return w.receive()
        .onMessage(ShimExited.class, msg -> startFailed(status))
        .onMessage(Execute.class, w::bounce)
        .build();
  }

  private Behavior<Command> startFailed(String status) {
    w.publishExit("start-failed", status, false);
    w.pool.tell(new WorkerActor.StartFailed(w.id, w.diagnosis.error(status)));
    return Behaviors.stopped(); // never offered to the pool: nothing can be on its way here
  }
}
