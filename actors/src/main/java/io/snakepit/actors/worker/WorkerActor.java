package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import com.google.protobuf.ByteString;
import com.zaxxer.nuprocess.NuAbstractProcessHandler;
import com.zaxxer.nuprocess.NuProcess;
import com.zaxxer.nuprocess.NuProcessBuilder;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.snakepit.CallTimeoutException;
import io.snakepit.SnakepitException;
import io.snakepit.WorkerCallException;
import io.snakepit.WorkerCrashedException;
import io.snakepit.WorkerStartException;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.PingRequest;
import io.snakepit.proto.PingResponse;
import io.snakepit.persistence.FaultInjection;
import io.snakepit.persistence.SpawnedWorker;
import io.snakepit.proto.WorkerGrpc;
import io.snakepit.shim.Cgroups;
import io.snakepit.shim.HostSupport;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.SessionSweep;
import io.snakepit.shim.Signals;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import io.snakepit.shim.WorkerIdentity;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Owns one worker: the NuProcess handle of its shim, the gRPC channel to its Python process, and the calls in flight.
 *
 * <p>Lifecycle: starting → ready (idle or busy) → stopping → stopped. The shim's lines and exit, and gRPC completions,
 * arrive on foreign threads and are only told to this actor. The actor reports to its pool through {@link Event}s and
 * stops itself once the shim has exited, so one actor is one process, start to end.
 */
public final class WorkerActor extends AbstractBehavior<WorkerActor.Command> {

  /** What a worker accepts. */
  public interface Command {}

  /** Run a call. The pool sends one only to a worker that reported itself ready or idle. */
  public record Execute(Job job) implements Command {}

  /** Stop gracefully: calls in flight get the stop grace, then the whole tree is killed. */
  public enum Stop implements Command { INSTANCE }

  /**
   * The pool has taken note of this worker's exit and will send it nothing more: the actor ends once its process is
   * gone. Until then, calls that still arrive are bounced back to the pool rather than lost.
   */
  public enum Dispose implements Command { INSTANCE }

  /** What a worker tells its pool. */
  public sealed interface Event {
    String workerId();
  }

  /** The worker is serving; it takes calls from now on. */
  public record Ready(String workerId, WorkerIdentity identity, ActorRef<Command> worker) implements Event {}

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

  /** The worker is due for replacement (calls, age or memory); it still serves the calls it has. */
  public record RecycleDue(String workerId, String reason) implements Event {}

  private record FromShim(ShimEvent event) implements Command {}

  private record ShimExited(int nuProcessCode) implements Command {}

  private record CallFinished(long callId, ExecuteResponse last, Throwable error) implements Command {}

  private record TransportGraceOver(long callId) implements Command {}

  private record CancelCall(long callId) implements Command {}

  private record PingAnswered(boolean ok, String why) implements Command {}

  /** The worker could not be contained as its pool's isolation asks (no cgroup, no systemd, no runc...). */
  private record Refused(RuntimeException error) implements Command {}

  private enum LimitTick implements Command { INSTANCE }

  private enum HealthTick implements Command { INSTANCE }

  private enum RecycleTick implements Command { INSTANCE }

  private record Prepared(List<String> cgroups) implements Command {}

  private record Reserved(Throwable error) implements Command {}

  private record Released(Throwable error, Runnable then) implements Command {}

  private record Journaled(Throwable error) implements Command {}

  private enum StartDeadline implements Command { INSTANCE }

  private enum StopDeadline implements Command { INSTANCE }

  private enum ExitOverdue implements Command { INSTANCE }

  private enum Phase { STARTING, READY, STOPPING }

  private static final Duration TRANSPORT_GRACE = Duration.ofSeconds(3);
  /** How often a limited worker's cgroup counters are read. */
  private static final Duration LIMIT_CHECK = Duration.ofMillis(250);

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final Launch launch;
  private final ActorRef<Event> pool;
  private final Function<String, ManagedChannel> channels;
  private final WorkerJournal journal;
  private NuProcess process;
  private ProcStat shim = new ProcStat(0, '?', 0, 0, 0, 0L);
  private final ArrayDeque<String> stderrTail = new ArrayDeque<>();
  private final Map<Long, Job> inFlight = new HashMap<>();
  private final Map<Long, Throwable> transportFailures = new HashMap<>();
  private final Map<Long, ClientCallStreamObserver<?>> calls = new HashMap<>();

  private Phase phase = Phase.STARTING;
  private WorkerIdentity identity;
  private ManagedChannel channel;
  private WorkerGrpc.WorkerStub stub;
  private ShimEvent.ExecFailed execFailed;
  private String exitStatus;
  private WorkerCrashedException.Reason crashReason = WorkerCrashedException.Reason.LOST;
  private String journalFailure;
  private boolean startDeadlinePassed;
  private boolean reported;
  private long nextCallId;
  private long callsDone;
  private long readyAt;
  private int pingsMissed;
  private boolean pingInFlight;
  /** It was killed for missed pings. */
  private boolean killedUnresponsive;
  private boolean recycleRequested;
  private boolean processGone;
  private boolean disposed;
  private boolean releasing;
  private boolean shimExitedWhileReleasing;
  /** How the pool's isolation mode contains it; chosen once. */
  private final Containment containment;
  /** Where blocking work runs (cgroupfs, runc, /proc): never the actor's thread nor the common pool. */
  private final Executor blocking;
  /** Which limit it hit, once one was: it is then killed, and this is how it ended. */
  private String limitHit;
  /** The crash reason that goes with limitHit. */
  private WorkerCrashedException.Reason limitReason;

  /**
   * A worker actor; it starts its shim at once.
   *
   * @param launch what to start
   * @param pool where to report
   * @param channels opens a gRPC channel to a Unix socket path
   * @param journal where the worker's identity is written before it is used
   */
  public static Behavior<Command> create(Launch launch, ActorRef<Event> pool,
      Function<String, ManagedChannel> channels, WorkerJournal journal) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new WorkerActor(ctx, timers, launch, pool, channels, journal)));
  }

  private WorkerActor(ActorContext<Command> context, TimerScheduler<Command> timers, Launch launch,
      ActorRef<Event> pool, Function<String, ManagedChannel> channels, WorkerJournal journal) {
    super(context);
    this.context = context;
    this.timers = timers;
    this.launch = launch;
    this.pool = pool;
    this.channels = channels;
    this.journal = journal;
    this.containment = Containment.of(launch);
    this.blocking = context.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(BLOCKING_DISPATCHER));
    context.pipeToSelf(CompletableFuture.supplyAsync(containment::prepare, blocking),
        (cgroups, error) -> error == null ? new Prepared(cgroups) : new Refused(unwrap(error)));
  }

  /** The dispatcher for blocking work (reference.conf documents it). */
  static final String BLOCKING_DISPATCHER = "snakepit.blocking-dispatcher";

  private static RuntimeException unwrap(Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    return cause instanceof RuntimeException r ? r : new IllegalStateException(cause.getMessage(), cause);
  }

  private Behavior<Command> onPrepared(Prepared msg) {
    // The reservation is durable before the process exists, so a crash at any later point leaves a trace.
    context.pipeToSelf(journal.reserve(launch.nonce(), launch.workerId(), msg.cgroups()),
        (done, error) -> new Reserved(error));
    return this;
  }

  private Behavior<Command> onRefused(Refused msg) {
    report(new StartFailed(launch.workerId(), new WorkerStartException("worker " + launch.workerId() + " cannot"
        + " start in isolation mode '" + launch.settings().isolation().mode().configName() + "': "
        + msg.error().getMessage(), List.of())));
    return Behaviors.stopped();
  }

  /** A limit was reached: the worker is killed (its state is unknown) and its end says which limit. */
  private Behavior<Command> onLimitTick() {
    if (limitHit == null && exitStatus == null) {
      limitHit = limitVerdict(containment.limited().orElseThrow().counters());
      if (limitHit != null) {
        context.getLog().warn("worker {}: {}; killing it", launch.workerId(), limitHit);
        send("KILL");
      }
    }
    return this;
  }

  /** "killed: memory limit 256 MiB exceeded ..." when the kernel counted a limit hit, else null. */
  private String limitVerdict(Cgroups.Counters counters) {
    Cgroups.Limits limits = launch.settings().isolation().limits();
    if (counters.oomKills() > 0) {
      limitReason = WorkerCrashedException.Reason.MEMORY_LIMIT;
      return "killed: memory limit " + Cgroups.bytes(limits.memoryBytes()) + " exceeded (the kernel's OOM killer"
          + " ended " + counters.oomKills() + " process" + (counters.oomKills() == 1 ? "" : "es") + " of the worker;"
          + " raise snakepit.pools.<name>.isolation.limits.memory)";
    }
    if (counters.pidsRefused() > 0) {
      limitReason = WorkerCrashedException.Reason.PIDS_LIMIT;
      return "killed: pids limit " + limits.pids() + " reached (" + counters.pidsRefused() + " forks refused; a"
          + " fork bomb, or raise snakepit.pools.<name>.isolation.limits.pids)";
    }
    return null;
  }

  /**
   * After the tree is gone: the containment is released on the blocking dispatcher (cgroup removal waits for the
   * kernel, runc deletes its state), and {@code then} runs on the actor once it is done.
   */
  private void release(Runnable then) {
    releasing = true;
    context.pipeToSelf(CompletableFuture.runAsync(containment::release, blocking),
        (done, error) -> new Released(error, then));
  }

  private Behavior<Command> onReleased(Released msg) {
    if (msg.error() != null) {
      context.getLog().error("worker {}: {}", launch.workerId(), unwrap(msg.error()).getMessage());
    }
    releasing = false;
    msg.then().run();
    if (shimExitedWhileReleasing) {
      return shimGone();
    }
    return processGone && disposed ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onReserved(Reserved msg) {
    if (msg.error() != null) {
      report(new StartFailed(launch.workerId(), new WorkerStartException("cannot journal worker "
          + launch.workerId() + " before starting it: " + msg.error().getMessage()
          + ". Check the registry's database (snakepit.registry.db)", List.of())));
      return Behaviors.stopped();
    }
    if (phase == Phase.STOPPING) {
      journal.exited(launch.nonce(), "never started: stopped before it was spawned");
      report(new Exited(launch.workerId(), "stopped before it was spawned", true, false, List.of()));
      return Behaviors.stopped();
    }
    FaultInjection.haltIfAsked("after-reserve");
    NuProcessBuilder builder = new NuProcessBuilder(launch.command(containment), launch.environment());
    builder.setProcessListener(new ShimHandler(context.getSelf()));
    process = builder.start();
    int pid = process == null ? 0 : process.getPID();
    // Read now, while the shim is certainly ours: its start time bounds which processes a sweep may touch.
    shim = ProcStat.read(pid).orElse(new ProcStat(pid, '?', 0, pid, pid, 0L));
    if (process == null) {
      context.getSelf().tell(new ShimExited(Integer.MIN_VALUE));
    }
    timers.startSingleTimer(StartDeadline.INSTANCE, launch.settings().startTimeout());
    if (containment.limited().isPresent()) {
      timers.startTimerWithFixedDelay(LimitTick.INSTANCE, LIMIT_CHECK);
    }
    context.getLog().debug("worker {} starting: shim pid {}", launch.workerId(), pid);
    return this;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Prepared.class, this::onPrepared)
        .onMessage(Reserved.class, this::onReserved)
        .onMessage(Released.class, this::onReleased)
        .onMessage(Refused.class, this::onRefused)
        .onMessageEquals(LimitTick.INSTANCE, this::onLimitTick)
        .onMessage(Journaled.class, this::onJournaled)
        .onMessage(Execute.class, this::onExecute)
        .onMessage(FromShim.class, this::onShimEvent)
        .onMessage(CallFinished.class, this::onCallFinished)
        .onMessage(TransportGraceOver.class, this::onTransportGraceOver)
        .onMessage(CancelCall.class, this::onCancelCall)
        .onMessageEquals(HealthTick.INSTANCE, this::onHealthTick)
        .onMessage(PingAnswered.class, this::onPingAnswered)
        .onMessageEquals(RecycleTick.INSTANCE, this::onRecycleTick)
        .onMessage(ShimExited.class, this::onShimExited)
        .onMessageEquals(StartDeadline.INSTANCE, this::onStartDeadline)
        .onMessageEquals(Stop.INSTANCE, this::onStop)
        .onMessageEquals(Dispose.INSTANCE, this::onDispose)
        .onMessageEquals(StopDeadline.INSTANCE, this::onStopDeadline)
        .onMessageEquals(ExitOverdue.INSTANCE, this::onExitOverdue)
        .onSignal(PostStop.class, signal -> onPostStop())
        .build();
  }

  private Behavior<Command> onExecute(Execute msg) {
    Job job = msg.job();
    if (exitStatus != null || phase == Phase.STOPPING) {
      pool.tell(new Bounced(launch.workerId(), job));
      return this;
    }
    if (phase != Phase.READY) {
      job.fail(new WorkerCallException("worker " + launch.workerId() + " is " + phase.name().toLowerCase()
          + " and cannot take calls", null));
      return this;
    }
    Duration timeout = job.options().timeout().isZero() ? launch.settings().callTimeout() : job.options().timeout();
    long remaining = timeout.isZero() ? Long.MAX_VALUE : timeout.toNanos() - (System.nanoTime() - job.submitted());
    if (remaining <= 0) {
      job.fail(timedOut(job, timeout));
    }
    if (job.isDone()) {
      pool.tell(new Idle(launch.workerId(), false));
      return this;
    }
    long callId = nextCallId++;
    inFlight.put(callId, job);
    ActorRef<Command> self = context.getSelf();
    // Cancelling the caller's stage cancels the gRPC call, which the tool sees as current_call().cancelled().
    job.promise().whenComplete((value, error) -> {
      if (job.promise().isCancelled()) {
        self.tell(new CancelCall(callId));
      }
    });
    WorkerGrpc.WorkerStub callStub = remaining == Long.MAX_VALUE ? stub
        : stub.withDeadlineAfter(remaining, TimeUnit.NANOSECONDS);
    if (job instanceof Job.Stream stream) {
      callStub.executeStream(job.request(), new Observer(self, callId) {
        @Override
        public void onNext(ExecuteResponse item) {
          // Items go to the caller straight from the call's thread, in order; only the end goes through the actor.
          if (item.hasValue()) {
            stream.onItem().accept(Outcomes.toResult(item.getValue()));
          } else {
            last = item;
          }
        }
      });
    } else {
      callStub.execute(job.request(), new Observer(self, callId));
    }
    return this;
  }

  /** A call's gRPC callbacks: they only tell the actor (stream items aside). */
  private class Observer implements ClientResponseObserver<io.snakepit.proto.ExecuteRequest, ExecuteResponse> {
    private final ActorRef<Command> self;
    private final long callId;
    ExecuteResponse last;

    Observer(ActorRef<Command> self, long callId) {
      this.self = self;
      this.callId = callId;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<io.snakepit.proto.ExecuteRequest> call) {
      // Called on the actor's thread, inside execute(): safe to record.
      calls.put(callId, call);
    }

    @Override
    public void onNext(ExecuteResponse value) {
      last = value;
    }

    @Override
    public void onError(Throwable t) {
      self.tell(new CallFinished(callId, null, t));
    }

    @Override
    public void onCompleted() {
      self.tell(new CallFinished(callId, last, null));
    }
  }

  private Behavior<Command> onCancelCall(CancelCall msg) {
    ClientCallStreamObserver<?> call = calls.get(msg.callId());
    if (call != null) {
      call.cancel("cancelled by the caller", null);
    }
    return this;
  }

  private CallTimeoutException timedOut(Job job, Duration timeout) {
    return new CallTimeoutException("call to '" + job.request().getTool() + "' did not finish within "
        + timeout.toMillis() + " ms (" + (job.options().timeout().isZero() ? "the pool's call-timeout"
            : "CallOptions.timeout") + "); it was cancelled in worker " + launch.workerId());
  }

  private Behavior<Command> onCallFinished(CallFinished msg) {
    Job job = inFlight.get(msg.callId());
    calls.remove(msg.callId());
    if (job == null) {
      return this;
    }
    Status.Code code = msg.error() == null ? Status.Code.OK : Status.fromThrowable(msg.error()).getCode();
    if (job.isDone() || code == Status.Code.DEADLINE_EXCEEDED) {
      // Cancelled by its caller, or past its deadline: the worker is fine and free for the next call.
      inFlight.remove(msg.callId());
      // The pool hears first that the worker is free, then the caller its outcome: a caller's next call then
      // finds the worker free (its session's worker, a closed circuit).
      boolean timedOut = !job.isDone();
      callFinished(timedOut);
      if (timedOut) {
        job.fail(timedOut(job, job.options().timeout().isZero() ? launch.settings().callTimeout()
            : job.options().timeout()));
      }
      return this;
    }
    if (msg.error() != null) {
      if (exitStatus == null && isTransportFailure(msg.error())) {
        // The process is probably dying: hold the call until its exit status arrives, so the caller learns why.
        transportFailures.put(msg.callId(), msg.error());
        timers.startSingleTimer(msg.callId(), new TransportGraceOver(msg.callId()), TRANSPORT_GRACE);
        return this;
      }
      inFlight.remove(msg.callId());
      callFinished(true);
      job.fail(exitStatus != null ? crashed() : new WorkerCallException("call to worker " + launch.workerId()
          + " failed: " + Status.fromThrowable(msg.error()), msg.error()));
    } else {
      inFlight.remove(msg.callId());
      callFinished(false);
      complete(job, msg.last());
    }
    return this;
  }

  /**
   * A call ended (any way): count it, check whether the worker is due for recycling, and free the slot.
   * {@code failed}: the call failed for the worker's fault (transport, deadline), which the circuit breaker counts.
   */
  private void callFinished(boolean failed) {
    callsDone++;
    if (phase != Phase.READY) {
      return;
    }
    WorkerSettings.Recycle recycle = launch.settings().recycle();
    if (recycle.maxCalls() > 0 && callsDone >= recycle.maxCalls()) {
      requestRecycle("served " + callsDone + " calls (recycle.max-calls " + recycle.maxCalls() + ")");
    }
    checkMemory();
    pool.tell(new Idle(launch.workerId(), failed));
  }

  private void requestRecycle(String reason) {
    if (!recycleRequested) {
      recycleRequested = true;
      context.getLog().info("worker {} is due for replacement: {}", launch.workerId(), reason);
      pool.tell(new RecycleDue(launch.workerId(), reason));
    }
  }

  /** Recycles the worker once its Python process's resident memory passes recycle.max-rss. */
  private void checkMemory() {
    long limit = launch.settings().recycle().maxRssBytes();
    if (limit > 0 && identity != null) {
      long rss = ProcStat.residentBytes(identity.pid());
      if (rss > limit) {
        requestRecycle("resident memory " + (rss >> 20) + " MiB over recycle.max-rss " + (limit >> 20) + " MiB");
      }
    }
  }

  private Behavior<Command> onRecycleTick() {
    Duration ttl = launch.settings().recycle().ttl();
    if (phase == Phase.READY && !ttl.isZero() && System.nanoTime() - readyAt >= ttl.toNanos()) {
      requestRecycle("older than recycle.ttl " + ttl.toSeconds() + " s");
    }
    if (phase == Phase.READY) {
      checkMemory();
    }
    return this;
  }

  private Behavior<Command> onHealthTick() {
    if (phase != Phase.READY || pingInFlight) {
      return this;
    }
    pingInFlight = true;
    WorkerSettings.Health health = launch.settings().health();
    ActorRef<Command> self = context.getSelf();
    stub.withDeadlineAfter(health.timeout().toMillis(), TimeUnit.MILLISECONDS).ping(PingRequest.getDefaultInstance(),
        new StreamObserver<>() {
          @Override
          public void onNext(PingResponse value) {}

          @Override
          public void onError(Throwable t) {
            self.tell(new PingAnswered(false, Status.fromThrowable(t).toString()));
          }

          @Override
          public void onCompleted() {
            self.tell(new PingAnswered(true, ""));
          }
        });
    return this;
  }

  private Behavior<Command> onPingAnswered(PingAnswered msg) {
    pingInFlight = false;
    if (msg.ok()) {
      pingsMissed = 0;
      return this;
    }
    pingsMissed++;
    WorkerSettings.Health health = launch.settings().health();
    context.getLog().warn("worker {} missed a ping ({} of {} in a row): {}", launch.workerId(), pingsMissed,
        health.maxMissed(), msg.why());
    if (pingsMissed >= health.maxMissed() && phase == Phase.READY) {
      context.getLog().error("worker {} missed {} pings in a row: killing it; the pool replaces it",
          launch.workerId(), pingsMissed);
      rememberStderr("snakepit: killed after " + pingsMissed + " missed pings (health.timeout "
          + health.timeout().toMillis() + " ms)");
      killedUnresponsive = true;
      send("KILL");
    }
    return this;
  }

  private static void complete(Job job, ExecuteResponse last) {
    String tool = job.request().getTool();
    if (last != null && last.hasError()) {
      job.fail(Outcomes.toException(tool, last.getError()));
    } else if (job instanceof Job.Unary unary) {
      if (last == null || !last.hasValue()) {
        unary.promise().completeExceptionally(new WorkerCallException("worker returned no result for " + tool, null));
      } else {
        unary.promise().complete(Outcomes.toResult(last.getValue()));
      }
    } else if (job instanceof Job.Stream stream) {
      stream.promise().complete(null);
    }
  }

  private Behavior<Command> onTransportGraceOver(TransportGraceOver msg) {
    Throwable error = transportFailures.remove(msg.callId());
    Job job = inFlight.remove(msg.callId());
    if (job != null && error != null) {
      callFinished(true);
      job.fail(new WorkerCallException("call to worker " + launch.workerId() + " failed while its process stayed up: "
          + Status.fromThrowable(error), error));
    }
    return this;
  }

  private static boolean isTransportFailure(Throwable t) {
    Status.Code code = Status.fromThrowable(t).getCode();
    return code == Status.Code.UNAVAILABLE || code == Status.Code.INTERNAL || code == Status.Code.UNKNOWN
        || code == Status.Code.CANCELLED;
  }

  private Behavior<Command> onShimEvent(FromShim msg) {
    ShimEvent event = msg.event();
    if (event instanceof ShimEvent.Err err) {
      rememberStderr(err.text());
      context.getLog().info("[{} stderr] {}", launch.workerId(), err.text());
    } else if (event instanceof ShimEvent.Out out) {
      context.getLog().info("[{} stdout] {}", launch.workerId(), out.text());
    } else if (event instanceof ShimEvent.Ready ready) {
      onReady(ready.identity());
    } else if (event instanceof ShimEvent.ExecFailed failed) {
      execFailed = failed;
    } else if (event instanceof ShimEvent.ShimError error) {
      rememberStderr("snakepit-shim: " + error.message());
      context.getLog().warn("worker {}: shim error: {}", launch.workerId(), error.message());
    } else if (event instanceof ShimEvent.Exit exit) {
      crashReason = reason(exit.status());
      String status = exit.status().describe();
      if (containment.limited().isPresent() && limitHit == null) {
        limitHit = limitVerdict(containment.limited().get().counters());
      }
      if (limitHit != null) {
        crashReason = limitReason;
      }
      timers.cancel(LimitTick.INSTANCE);
      String ended = limitHit == null ? status : limitHit + " (" + status + ")";
      exitStatus = ended;
      release(() -> onExitReported(ended));
    } else if (event instanceof ShimEvent.Unknown unknown) {
      context.getLog().warn("worker {}: unexpected line from the shim: {}", launch.workerId(), unknown.line());
    }
    return this;
  }

  private void onReady(WorkerIdentity id) {
    if (phase != Phase.STARTING || identity != null) {
      return;
    }
    identity = id;
    FaultInjection.haltIfAsked("before-spawned-write");
    SpawnedWorker spawned = new SpawnedWorker(id.shimPid(), id.shimStartTime(), id.pid(), id.pgid(), id.startTime(),
        id.bootId(), launch.socket().toString(), "");
    // Routable only once its identity is durable: a JVM that dies now leaves a journal that names this tree.
    context.pipeToSelf(journal.spawned(launch.nonce(), spawned), (done, error) -> new Journaled(error));
  }

  private Behavior<Command> onJournaled(Journaled msg) {
    if (phase != Phase.STARTING) {
      return this;
    }
    if (msg.error() != null) {
      journalFailure = "cannot journal the identity of worker " + launch.workerId() + ": " + msg.error().getMessage()
          + ". Check the registry's database (snakepit.registry.db)";
      context.getLog().error("{}; killing it", journalFailure);
      send("KILL");
      return this;
    }
    timers.cancel(StartDeadline.INSTANCE);
    channel = channels.apply(launch.socket().toString());
    stub = WorkerGrpc.newStub(channel);
    phase = Phase.READY;
    readyAt = System.nanoTime();
    WorkerSettings settings = launch.settings();
    if (!settings.health().interval().isZero()) {
      timers.startTimerWithFixedDelay(HealthTick.INSTANCE, settings.health().interval());
    }
    if (!settings.recycle().ttl().isZero() || settings.recycle().maxRssBytes() > 0) {
      timers.startTimerWithFixedDelay(RecycleTick.INSTANCE, Duration.ofSeconds(1));
    }
    context.getLog().debug("worker {} ready: python pid {}, shim pid {}", launch.workerId(), identity.pid(),
        identity.shimPid());
    pool.tell(new Ready(launch.workerId(), identity, context.getSelf()));
    return this;
  }

  /** The tree is gone (the shim writes EXIT only then): fail what was in flight and let the pool replace us. */
  private void onExitReported(String status) {
    exitStatus = status;
    journal.exited(launch.nonce(), status);
    if (phase == Phase.STARTING) {
      return;
    }
    report(new Exited(launch.workerId(), status, phase == Phase.STOPPING, duringCall(), failInFlight()));
  }

  /** Whether it died serving calls; one killed for missed pings counts as unresponsive, whatever it was running. */
  private boolean duringCall() {
    return !inFlight.isEmpty() && !killedUnresponsive;
  }

  /** Fails the calls in flight, except idempotent ones with attempts left after a crash: those are returned. */
  private List<Job> failInFlight() {
    List<Job> retry = new ArrayList<>();
    for (Job job : inFlight.values()) {
      if (phase == Phase.STOPPING) {
        job.fail(new WorkerCallException("worker " + launch.workerId() + " stopped before the call finished: "
            + exitStatus, null));
      } else if (job.options().idempotent() && job.attempt() + 1 < launch.settings().retryAttempts()
          && !job.isDone()) {
        retry.add(job.nextAttempt());
      } else {
        job.fail(crashed());
      }
    }
    inFlight.clear();
    transportFailures.clear();
    calls.clear();
    return retry;
  }

  private SnakepitException crashed() {
    return new WorkerCrashedException(launch.workerId(), exitStatus, crashReason, List.copyOf(stderrTail));
  }

  private static WorkerCrashedException.Reason reason(io.snakepit.shim.ExitStatus status) {
    if (!status.signaled()) {
      return WorkerCrashedException.Reason.EXITED;
    }
    return switch (status.signal()) {
      case Signals.SIGKILL -> WorkerCrashedException.Reason.KILLED;
      case Signals.SIGSEGV, Signals.SIGBUS -> WorkerCrashedException.Reason.SEGFAULT;
      case Signals.SIGABRT -> WorkerCrashedException.Reason.ABORTED;
      default -> WorkerCrashedException.Reason.SIGNALED;
    };
  }

  private Behavior<Command> onShimExited(ShimExited msg) {
    if (exitStatus == null) {
      // No EXIT line: the shim itself was killed, so nothing took its tree down. Do it here.
      List<Integer> killed = SessionSweep.killSession(shim.pid(), shim.startTime());
      exitStatus = "its shim (pid " + shim.pid() + ") died unexpectedly (NuProcess exit code "
          + msg.nuProcessCode() + ")";
      context.getLog().warn("worker {}: {}; killed the rest of its tree: {}", launch.workerId(), exitStatus, killed);
      release(() -> { // cgroup.kill: also what left the session
        if (process != null) {
          journal.exited(launch.nonce(), exitStatus + "; the rest of its tree was killed");
        }
        if (phase != Phase.STARTING) {
          report(new Exited(launch.workerId(), exitStatus, phase == Phase.STOPPING, duringCall(), failInFlight()));
        }
        shimExitedWhileReleasing = true;
      });
      return this;
    }
    if (releasing) {
      shimExitedWhileReleasing = true; // the exit is reported once the release is done
      return this;
    }
    return shimGone();
  }

  private Behavior<Command> shimGone() {
    processGone = true;
    if (phase == Phase.STARTING) {
      report(new StartFailed(launch.workerId(), startError()));
      return Behaviors.stopped(); // never offered to the pool: nothing can be on its way here
    }
    return disposed ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onDispose() {
    disposed = true;
    return processGone ? Behaviors.stopped() : this;
  }

  private WorkerStartException startError() {
    String python = launch.settings().python();
    List<String> tail = List.copyOf(stderrTail);
    if (journalFailure != null) {
      return new WorkerStartException(journalFailure, tail);
    }
    if (execFailed != null) {
      return new WorkerStartException("cannot start Python '" + python + "': " + execFailed.message() + " (errno "
          + execFailed.errno() + "). Set the pool's python (snakepit.pools.<name>.python) to a Python 3.9 or newer"
          + " with grpcio and protobuf installed", tail);
    }
    if (startDeadlinePassed) {
      return new WorkerStartException("worker " + launch.workerId() + " did not become ready within "
          + launch.settings().startTimeout().toMillis() + " ms (snakepit.pools.<name>.start-timeout); its process"
          + " group was killed. Check the adapter's setup() and imports for what blocks", tail);
    }
    String hint = tail.stream().anyMatch(l -> l.contains("No module named 'grpc'")
        || l.contains("No module named 'google'"))
        ? ". This Python lacks grpcio or protobuf: install them with '" + python + " -m pip install grpcio protobuf'"
        : tail.stream().anyMatch(l -> l.contains("cannot load adapter"))
        ? ". The adapter '" + launch.settings().adapter() + "' failed to import: see the traceback below"
        : "";
    return new WorkerStartException("worker " + launch.workerId() + " " + exitStatus + " before it was ready" + hint,
        tail);
  }

  private Behavior<Command> onStartDeadline() {
    if (phase == Phase.STARTING) {
      startDeadlinePassed = true;
      context.getLog().warn("worker {} not ready after {}: killing its tree", launch.workerId(),
          launch.settings().startTimeout());
      send("KILL");
    }
    return this;
  }

  private Behavior<Command> onStop() {
    if (phase == Phase.STOPPING) {
      return this;
    }
    phase = Phase.STOPPING;
    timers.cancel(HealthTick.INSTANCE);
    timers.cancel(RecycleTick.INSTANCE);
    if (process == null) {
      return this; // still reserving: onReserved ends it without spawning
    }
    // Stdin stays open: EOF means the JVM is gone, and would cut the grace to lifeline-grace.
    send("STOP " + launch.settings().shimGrace().toMillis());
    timers.startSingleTimer(StopDeadline.INSTANCE, launch.settings().shimGrace().plusSeconds(3));
    return this;
  }

  private Behavior<Command> onStopDeadline() {
    // The shim did not finish its own teardown in time: kill it and sweep its session ourselves.
    context.getLog().warn("worker {}: shim did not exit after stop; killing it", launch.workerId());
    if (process != null) {
      process.destroy(true);
    }
    SessionSweep.killSession(shim.pid(), shim.startTime());
    timers.startSingleTimer(ExitOverdue.INSTANCE, Duration.ofSeconds(2));
    return this;
  }

  /** NuProcess never reported the exit (its threads stop in a JVM shutdown hook): the tree is swept; give up. */
  private Behavior<Command> onExitOverdue() {
    List<Integer> killed = SessionSweep.killSession(shim.pid(), shim.startTime());
    if (exitStatus == null) {
      exitStatus = "stopped without an exit report from its shim";
    }
    context.getLog().warn("worker {}: no exit report from the shim 2 s after killing it; swept {}; stopping",
        launch.workerId(), killed);
    report(new Exited(launch.workerId(), exitStatus, true, duringCall(), failInFlight()));
    processGone = true;
    return disposed ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onPostStop() {
    if (process != null && process.isRunning()) {
      // Stopped without a Stop (the actor system is going down): the shim takes the tree down on stdin EOF.
      process.closeStdin(true);
    }
    if (channel != null) {
      channel.shutdownNow();
    }
    for (Job job : inFlight.values()) {
      job.fail(new WorkerCallException("worker " + launch.workerId() + " was stopped", null));
    }
    return this;
  }

  private void report(Event event) {
    if (!reported) {
      reported = true;
      pool.tell(event);
    }
  }

  private void send(String line) {
    if (process != null && process.isRunning()) {
      process.writeStdin(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
    }
  }

  private void rememberStderr(String line) {
    if (stderrTail.size() == launch.settings().stderrTail()) {
      stderrTail.removeFirst();
    }
    stderrTail.addLast(line);
  }

  /** NuProcess callbacks: they run on NuProcess's shared threads and only tell. */
  private static final class ShimHandler extends NuAbstractProcessHandler {
    private final ActorRef<Command> worker;
    private final ShimLineDecoder decoder = new ShimLineDecoder();
    private final ShimLineDecoder shimStderr = new ShimLineDecoder();

    ShimHandler(ActorRef<Command> worker) {
      this.worker = worker;
    }

    @Override
    public void onStdout(ByteBuffer buffer, boolean closed) {
      decoder.feed(buffer, event -> worker.tell(new FromShim(event)));
    }

    @Override
    public void onStderr(ByteBuffer buffer, boolean closed) {
      // The shim writes on its own stderr only for usage errors; keep them as shim errors.
      shimStderr.feedLines(buffer, line -> worker.tell(new FromShim(new ShimEvent.ShimError(line))));
    }

    @Override
    public void onExit(int statusCode) {
      worker.tell(new ShimExited(statusCode));
    }
  }
}
