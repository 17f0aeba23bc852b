package io.snakepit.actors.supervision;

import akka.Done;
import akka.actor.ActorInitializationException;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.BehaviorInterceptor;
import akka.actor.typed.ChildFailed;
import akka.actor.typed.PostStop;
import akka.actor.typed.Terminated;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * A supervisor with the semantics of Erlang/OTP's {@code supervisor}, whose documentation is the specification: child
 * specs ({@link ChildSpec}), restart types ({@link Restart}), shutdown specs ({@link ShutdownSpec}), strategies
 * ({@link Strategy}), restart intensity, start in order and stop in reverse order.
 *
 * <h2>OTP on Akka Typed</h2>
 *
 * <ul>
 *   <li><b>Children</b> are spawned with {@code context.spawn} and Akka's default supervision (an exception stops the
 *       actor), and watched with {@code context.watch}. Not {@code watchWith}: its message replaces the signal, and
 *       with it the difference between the two ways a child ends.
 *   <li><b>Normal exit</b>: the child stopped itself ({@code Behaviors.stopped()}) or was stopped; the supervisor gets
 *       {@code Terminated}. <b>Abnormal exit</b>: the child failed with an exception; the supervisor gets
 *       {@code ChildFailed} (a {@code Terminated} that carries the exception). {@link Restart#TRANSIENT} children are
 *       restarted only after the latter.
 *   <li><b>Started</b>: a worker has started once its setup has returned: the supervisor wraps its behaviour in an
 *       interceptor that reports back after the child's start (every nested {@code Behaviors.setup}) has run. A
 *       {@link ChildType#SUPERVISOR} child has started once all its own children have. The next child is spawned only
 *       then, as OTP's start is synchronous; so a tree starts depth first, in order.
 *   <li><b>Fails to start</b>: the start factory throws (or returns null), or the child fails ({@code ChildFailed})
 *       before it has reported its start: its setup threw, a nested supervisor could not start its own children, or it
 *       crashed so soon that the crash overtook its report (Akka delivers {@code Terminated} ahead of ordinary
 *       messages). A child that stops normally before its report is taken as started and ended normally at once. There
 *       is no start timeout: a setup that never returns holds the supervisor, as an {@code init/1} that never returns
 *       holds OTP's.
 *   <li><b>Stopping a child</b> follows its shutdown spec and its stop message, as {@link ShutdownSpec} describes;
 *       {@code context.stop(child)} is the brutal kill. The supervisor always waits for the child's {@code Terminated}
 *       before it goes on.
 *   <li><b>Escalation</b>: when a child cannot be started at first, or when more than {@code maxRestarts} restarts
 *       happen within {@code period} (a sliding window; a one_for_all restart counts once), the supervisor stops every
 *       child in reverse start order and then fails with a {@link SupervisorFailedException}, so that its own
 *       supervisor sees an abnormal exit. (OTP's supervisor exits with reason {@code shutdown} there, which a parent
 *       treats as normal for a transient child; here it is always abnormal.)
 *   <li><b>Restarts</b> are immediate, without backoff, and start a fresh actor from the start factory under the same
 *       id. A restart whose start fails counts as another abnormal exit of that child: the strategy applies again and
 *       the intensity counts it, until the restart succeeds or the supervisor escalates.
 *   <li><b>One request at a time</b>: like OTP's supervisor, which is blocked while it starts or stops a child, this one
 *       handles the commands that change its children ({@link StartChild}, {@link TerminateChild}, {@link Shutdown},
 *       ...) one at a time, in arrival order, and queues them while a start, stop or restart is in progress. Queries
 *       ({@link WhichChildren}, {@link CountChildren}) are answered at once.
 *   <li><b>Group restarts</b> (one_for_all, rest_for_one) restart the children of the group that should be running;
 *       a child that was terminated on request, or a transient one that ended normally, stays down. Temporary children
 *       of the group are stopped and removed.
 *   <li><b>Stopping the supervisor</b>: {@link Shutdown} (with a reply) or {@link Stop} stops the children one by one
 *       in reverse start order, each within its shutdown spec, then the supervisor. The children of a
 *       {@link Strategy#SIMPLE_ONE_FOR_ONE} supervisor are all asked at once and each gets the template's shutdown
 *       spec, so a pool of N workers stops in one grace period, not N; they end in no particular order. If the
 *       supervisor is stopped any other way (its parent's {@code context.stop}, the actor system terminating), Akka
 *       stops its children itself, all at once and before {@code PostStop}: no order can be kept then, and
 *       {@code PostStop} only answers whoever waits.
 * </ul>
 */
public final class Supervisor extends AbstractBehavior<Supervisor.Command> {

  /** What a supervisor accepts. */
  public interface Command {}

  /**
   * Add a child spec and start it (OTP's {@code start_child} with a child spec). Refused with
   * {@link Refusal#ALREADY_STARTED} or {@link Refusal#ALREADY_PRESENT} if the id is taken, and by a simple_one_for_one
   * supervisor; if the child fails to start the reply is {@link Failed} and the spec is not kept.
   */
  public record StartChild(ChildSpec<?> spec, ActorRef<Reply> replyTo) implements Command {}

  /**
   * Start a new child from a simple_one_for_one supervisor's template with this argument (OTP's {@code start_child}
   * with a list of extra arguments). Its id is the template's id, a dash and a sequence number.
   */
  public record StartFromTemplate(Object argument, ActorRef<Reply> replyTo) implements Command {}

  /** Start again a child whose spec is kept but which is not running (OTP's {@code restart_child}). */
  public record RestartChild(String id, ActorRef<Reply> replyTo) implements Command {}

  /**
   * Stop a child within its shutdown spec and keep its spec, unless it is temporary or a simple_one_for_one child (OTP's
   * {@code terminate_child}). A child that is not running is only marked as not to be restarted.
   */
  public record TerminateChild(String id, ActorRef<Reply> replyTo) implements Command {}

  /** Remove the spec of a child that is not running (OTP's {@code delete_child}). */
  public record DeleteChild(String id, ActorRef<Reply> replyTo) implements Command {}

  /** List the children in start order (OTP's {@code which_children}). */
  public record WhichChildren(ActorRef<Children> replyTo) implements Command {}

  /** Count the children (OTP's {@code count_children}). */
  public record CountChildren(ActorRef<ChildCounts> replyTo) implements Command {}

  /**
   * Stop the children in reverse start order, each within its shutdown spec, then stop the supervisor and reply. Also
   * answered, with the same reply, if the supervisor stops for another reason.
   */
  public record Shutdown(ActorRef<Done> replyTo) implements Command {}

  /** {@link Shutdown} without a reply: the stop message of a supervisor child. */
  public enum Stop implements Command { INSTANCE }

  /** How a request about one child ended. */
  public sealed interface Reply permits Started, Ok, Refused, Failed {}

  /** The child was started; {@code child} is its actor, to narrow with {@code unsafeUpcast()}. */
  public record Started(String id, ActorRef<?> child) implements Reply {}

  /** The child was terminated or deleted. */
  public record Ok(String id) implements Reply {}

  /**
   * The request does not apply in the child's current state. {@code id} is null when a request for a simple_one_for_one
   * child reached a supervisor that has no template.
   */
  public record Refused(String id, Refusal reason) implements Reply {}

  /** The child failed to start, with the factory's or the child's exception. */
  public record Failed(String id, Throwable cause) implements Reply {}

  /** Why a request was refused; the names follow OTP's error atoms. */
  public enum Refusal {
    /** No child has that id. */
    NOT_FOUND,
    /** {@link StartChild}: a child with that id is running. */
    ALREADY_STARTED,
    /** {@link StartChild}: a child spec with that id is kept, though not running. */
    ALREADY_PRESENT,
    /** {@link RestartChild} or {@link DeleteChild}: the child is running. */
    RUNNING,
    /** {@link RestartChild} or {@link DeleteChild}: the child is being restarted. */
    RESTARTING,
    /** A simple_one_for_one supervisor takes {@link StartFromTemplate}, not specs, and keeps no specs to restart. */
    SIMPLE_ONE_FOR_ONE,
    /** {@link StartFromTemplate} needs a simple_one_for_one supervisor. */
    NO_TEMPLATE,
    /** The supervisor is stopping. */
    STOPPING
  }

  /** The children in start order. */
  public record Children(List<ChildInfo> children) {}

  /** The child with this token has started (from the interceptor, or from a nested supervisor). */
  private record ChildStarted(long token) implements Command {}

  /** From a parent supervisor: tell it, with this token, once this supervisor's children have all started. */
  private record ReportStarted(ActorRef<Command> parent, long token) implements Command {}

  /** The shutdown timeout of the child with this token has expired. */
  private record StopTimedOut(long token) implements Command {}

  private enum State { DOWN, STARTING, RUNNING, STOPPING }

  private enum Kind { INITIAL, RESTART, START_CHILD, RESTART_CHILD, TERMINATE_CHILD, SHUTDOWN, ESCALATE }

  private sealed interface Step permits StartStep, StopStep {}

  private record StartStep(Child<?> child) implements Step {}

  /** Stop these children at once (one of them, except for simple_one_for_one) and wait for all. */
  private record StopStep(List<Child<?>> children) implements Step {}

  /** An ended child whose restart is still to be decided; {@code failure} is null for a normal exit. */
  private record Exit(Child<?> child, long token, Throwable failure) {}

  /** What the supervisor is doing: steps done one after the other, each waiting for the children it starts or stops. */
  private static final class Job {
    final Kind kind;
    final Child<?> subject;
    final ActorRef<Reply> replyTo;
    final ArrayDeque<Step> steps = new ArrayDeque<>();
    SupervisorFailedException failure;

    Job(Kind kind, Child<?> subject, ActorRef<Reply> replyTo) {
      this.kind = kind;
      this.subject = subject;
      this.replyTo = replyTo;
    }
  }

  /** One child spec and its current actor. */
  private static final class Child<T> {
    final String id;
    final ChildSpec<T> spec;
    final Object argument;
    ActorRef<T> ref;
    ActorRef<T> last;
    long token;
    State state = State.DOWN;
    /** Whether it is meant to run: it has started and has not been terminated, or ended for good. */
    boolean wanted;

    Child(String id, ChildSpec<T> spec, Object argument) {
      this.id = id;
      this.spec = spec;
      this.argument = argument;
    }

    void spawn(ActorContext<Command> context, long token) {
      this.token = token;
      Behavior<T> behavior = spec.behavior(argument);
      ActorRef<Command> supervisor = context.getSelf();
      Behavior<T> reporting = spec.type() == ChildType.SUPERVISOR
          ? behavior
          : Behaviors.intercept(() -> new StartReport<T>(supervisor, token), behavior);
      ref = context.spawn(reporting, actorName(id, token));
      last = ref;
      state = State.STARTING;
      context.watch(ref);
      if (spec.type() == ChildType.SUPERVISOR) {
        ref.<Command>unsafeUpcast().tell(new ReportStarted(supervisor, token));
      }
    }

    void sendStopMessage() {
      spec.stopMessage().ifPresent(ref::tell);
    }
  }

  /** Tells the supervisor once the child's start (its setup, however deeply nested) has returned. */
  private static final class StartReport<T> extends BehaviorInterceptor<T, T> {
    private final ActorRef<Command> supervisor;
    private final long token;

    StartReport(ActorRef<Command> supervisor, long token) {
      super(anyMessage());
      this.supervisor = supervisor;
      this.token = token;
    }

    @Override
    public Behavior<T> aroundStart(TypedActorContext<T> ctx, PreStartTarget<T> target) {
      Behavior<T> started = target.start(ctx);
      supervisor.tell(new ChildStarted(token));
      return started;
    }

    @Override
    public Behavior<T> aroundReceive(TypedActorContext<T> ctx, T msg, ReceiveTarget<T> target) {
      return target.apply(ctx, msg);
    }

    // Every message passes straight through; the class is only Akka's filter of what to intercept.
    @SuppressWarnings("unchecked")
    private static <T> Class<T> anyMessage() {
      return (Class<T>) Object.class;
    }
  }

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final Strategy strategy;
  private final int maxRestarts;
  private final Duration period;
  private final LongSupplier nanoClock;
  private final ChildSpec<?> template;
  private final List<Child<?>> children = new ArrayList<>();
  private final Map<ActorRef<?>, Child<?>> byRef = new HashMap<>();
  private final ArrayDeque<Long> restarts = new ArrayDeque<>();
  private final ArrayDeque<Exit> exits = new ArrayDeque<>();
  private final ArrayDeque<Command> requests = new ArrayDeque<>();
  private final List<ActorRef<Done>> stopWaiters = new ArrayList<>();
  private final List<ReportStarted> startWaiters = new ArrayList<>();
  private final Set<Child<?>> stopping = new LinkedHashSet<>();

  private Job job;
  private Child<?> starting;
  private boolean started;
  private long tokens;
  private long templateSequence;

  /**
   * A supervisor that starts {@code children} in order (a simple_one_for_one one starts none: its one spec is the
   * template), and fails if more than {@code maxRestarts} restarts happen within {@code period}.
   */
  public static Behavior<Command> create(Strategy strategy, int maxRestarts, Duration period,
      List<ChildSpec<?>> children) {
    return create(strategy, maxRestarts, period, children, System::nanoTime);
  }

  /** As {@link #create(Strategy, int, Duration, List)}, with the clock the restart intensity is measured by. */
  static Behavior<Command> create(Strategy strategy, int maxRestarts, Duration period, List<ChildSpec<?>> children,
      LongSupplier nanoClock) {
    Objects.requireNonNull(strategy, "strategy");
    Objects.requireNonNull(period, "period");
    Objects.requireNonNull(nanoClock, "nanoClock");
    if (maxRestarts < 0) {
      throw new IllegalArgumentException("maxRestarts must be 0 or more, got " + maxRestarts);
    }
    if (period.isNegative() || period.isZero()) {
      throw new IllegalArgumentException("the restart intensity period must be positive, got " + period);
    }
    List<ChildSpec<?>> specs = List.copyOf(Objects.requireNonNull(children, "children"));
    Set<String> ids = new HashSet<>();
    for (ChildSpec<?> spec : specs) {
      if (!ids.add(spec.id())) {
        throw new IllegalArgumentException("two child specs have the id '" + spec.id() + "'; ids must be unique");
      }
    }
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE && specs.size() != 1) {
      throw new IllegalArgumentException("a simple_one_for_one supervisor takes exactly one child spec, its template; got "
          + specs.size());
    }
    return Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new Supervisor(ctx, timers, strategy, maxRestarts, period, specs, nanoClock).begin()));
  }

  private Supervisor(ActorContext<Command> context, TimerScheduler<Command> timers, Strategy strategy,
      int maxRestarts, Duration period, List<ChildSpec<?>> specs, LongSupplier nanoClock) {
    super(context);
    this.context = context;
    this.timers = timers;
    this.strategy = strategy;
    this.maxRestarts = maxRestarts;
    this.period = period;
    this.nanoClock = nanoClock;
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
      template = specs.get(0);
    } else {
      template = null;
      for (ChildSpec<?> spec : specs) {
        children.add(newChild(spec.id(), spec, null));
      }
    }
  }

  private static <T> Child<T> newChild(String id, ChildSpec<T> spec, Object argument) {
    return new Child<>(id, spec, argument);
  }

  private Behavior<Command> begin() {
    job = new Job(Kind.INITIAL, null, null);
    children.forEach(child -> job.steps.add(new StartStep(child)));
    return advance();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(WhichChildren.class, this::onWhichChildren)
        .onMessage(CountChildren.class, this::onCountChildren)
        .onMessage(ChildStarted.class, this::onChildStarted)
        .onMessage(StopTimedOut.class, this::onStopTimedOut)
        .onMessage(ReportStarted.class, this::onReportStarted)
        .onMessage(StartChild.class, this::onRequest)
        .onMessage(StartFromTemplate.class, this::onRequest)
        .onMessage(RestartChild.class, this::onRequest)
        .onMessage(TerminateChild.class, this::onRequest)
        .onMessage(DeleteChild.class, this::onRequest)
        .onMessage(Shutdown.class, this::onRequest)
        .onMessageEquals(Stop.INSTANCE, () -> onRequest(Stop.INSTANCE))
        .onSignal(ChildFailed.class, failed -> onExit(failed.getRef(), failed.getCause()))
        .onSignal(Terminated.class, terminated -> onExit(terminated.getRef(), null))
        .onSignal(PostStop.class, signal -> onPostStop())
        .build();
  }

  // ---- the work loop ----

  /**
   * Goes on with the current job as far as it can without waiting; then, when idle, decides the restarts of children
   * that ended, then performs queued requests, in that order.
   */
  private Behavior<Command> advance() {
    while (true) {
      if (job != null) {
        if (starting != null || !stopping.isEmpty()) {
          return this;
        }
        Step step = job.steps.poll();
        if (step != null) {
          begin(step);
        } else {
          Behavior<Command> next = finish();
          if (next != this) {
            return next;
          }
        }
      } else if (!exits.isEmpty()) {
        decide(exits.poll());
      } else if (!requests.isEmpty()) {
        perform(requests.poll());
      } else {
        return this;
      }
    }
  }

  private void begin(Step step) {
    if (step instanceof StartStep start) {
      Child<?> child = start.child();
      if (child.ref != null || !children.contains(child)) {
        return;
      }
      try {
        child.spawn(context, ++tokens);
      } catch (RuntimeException e) {
        child.ref = null;
        child.state = State.DOWN;
        startFailed(child, e);
        return;
      }
      byRef.put(child.ref, child);
      starting = child;
    } else if (step instanceof StopStep stop) {
      for (Child<?> child : stop.children()) {
        if (child.ref != null && child.state == State.RUNNING) {
          beginStop(child);
        }
      }
    }
  }

  private void beginStop(Child<?> child) {
    child.state = State.STOPPING;
    stopping.add(child);
    ShutdownSpec shutdown = child.spec.shutdown();
    if (shutdown.isBrutalKill() || child.spec.stopMessage().isEmpty()) {
      context.stop(child.ref);
    } else {
      child.sendStopMessage();
      shutdown.timeout().ifPresent(timeout ->
          timers.startSingleTimer(stopTimer(child.token), new StopTimedOut(child.token), timeout));
    }
  }

  private static String stopTimer(long token) {
    return "stop-" + token;
  }

  private Behavior<Command> finish() {
    Job done = job;
    job = null;
    switch (done.kind) {
      case INITIAL -> {
        started = true;
        context.getLog().debug("supervisor started {} children", children.size());
        startWaiters.forEach(waiter -> waiter.parent().tell(new ChildStarted(waiter.token())));
        startWaiters.clear();
      }
      case START_CHILD, RESTART_CHILD -> done.replyTo.tell(new Started(done.subject.id, done.subject.last));
      case TERMINATE_CHILD -> done.replyTo.tell(new Ok(done.subject.id));
      case SHUTDOWN -> {
        answerStopWaiters();
        return Behaviors.stopped();
      }
      case ESCALATE -> {
        answerStopWaiters();
        throw done.failure;
      }
      case RESTART -> { }
    }
    return this;
  }

  // ---- children starting and ending ----

  private Behavior<Command> onChildStarted(ChildStarted msg) {
    Child<?> child = starting;
    if (child != null && child.token == msg.token() && child.state == State.STARTING) {
      child.state = State.RUNNING;
      child.wanted = true;
      starting = null;
      return advance();
    }
    return this;
  }

  private Behavior<Command> onExit(ActorRef<Void> ref, Throwable failure) {
    Child<?> child = byRef.remove(ref);
    if (child == null) {
      return this;
    }
    State was = child.state;
    child.ref = null;
    child.state = State.DOWN;
    switch (was) {
      case STOPPING -> {
        timers.cancel(stopTimer(child.token));
        stopping.remove(child);
        if (failure != null) {
          context.getLog().warn("child '{}' failed while stopping: {}", child.id, failure.toString());
        }
        boolean simpleTerminate = strategy == Strategy.SIMPLE_ONE_FOR_ONE && job != null
            && job.kind == Kind.TERMINATE_CHILD;
        if (child.spec.restart() == Restart.TEMPORARY || simpleTerminate) {
          children.remove(child);
        }
      }
      case STARTING -> {
        starting = null;
        if (failure != null) {
          startFailed(child, unwrap(failure));
        } else {
          // It stopped itself before its report arrived: it started, and ended normally.
          child.wanted = true;
          exits.add(new Exit(child, child.token, null));
        }
      }
      default -> exits.add(new Exit(child, child.token, failure));
    }
    return advance();
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof ActorInitializationException && failure.getCause() != null ? failure.getCause() : failure;
  }

  private void startFailed(Child<?> child, Throwable cause) {
    context.getLog().warn("child '{}' failed to start: {}", child.id, cause.toString());
    switch (job.kind) {
      case INITIAL -> escalate("could not start child '" + child.id + "': " + cause, cause);
      case RESTART -> {
        // Abandon this restart; the failure counts as another exit, which the strategy and the intensity see.
        job = null;
        exits.addFirst(new Exit(child, child.token, cause));
      }
      case START_CHILD -> {
        children.remove(child);
        job.replyTo.tell(new Failed(child.id, cause));
        job = null;
      }
      case RESTART_CHILD -> {
        child.wanted = false;
        job.replyTo.tell(new Failed(child.id, cause));
        job = null;
      }
      default -> throw new IllegalStateException("a child was started during a " + job.kind + " job");
    }
  }

  /** What to do about a child that ended by itself: OTP's restart types, strategies and intensity. */
  private void decide(Exit exit) {
    Child<?> child = exit.child();
    if (child.ref != null || child.token != exit.token() || !children.contains(child)) {
      return; // restarted or removed since
    }
    Restart restart = child.spec.restart();
    String how = exit.failure() == null ? "stopped" : "failed: " + exit.failure();
    if (restart == Restart.TEMPORARY || (restart == Restart.TRANSIENT && exit.failure() == null)) {
      context.getLog().debug("{} child '{}' {}; not restarted", restart, child.id, how);
      child.wanted = false;
      if (restart == Restart.TEMPORARY || strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
        children.remove(child);
      }
      return;
    }
    if (!withinIntensity()) {
      escalate("reached its restart intensity, more than " + maxRestarts + " restarts within " + period
          + " (the last: child '" + child.id + "' " + how + ")", exit.failure());
      return;
    }
    context.getLog().info("child '{}' {}; restarting ({})", child.id, how, strategy);
    job = restartJob(child);
  }

  /** Records a restart now and tells whether the restarts within the period are still no more than allowed. */
  private boolean withinIntensity() {
    long now = nanoClock.getAsLong();
    restarts.addLast(now);
    while (now - restarts.peekFirst() > period.toNanos()) {
      restarts.pollFirst();
    }
    return restarts.size() <= maxRestarts;
  }

  private Job restartJob(Child<?> child) {
    Job restart = new Job(Kind.RESTART, child, null);
    List<Child<?>> group = switch (strategy) {
      case ONE_FOR_ALL -> List.copyOf(children);
      case REST_FOR_ONE -> List.copyOf(children.subList(children.indexOf(child), children.size()));
      case ONE_FOR_ONE, SIMPLE_ONE_FOR_ONE -> List.of(child);
    };
    for (int i = group.size() - 1; i >= 0; i--) {
      if (group.get(i).ref != null) {
        restart.steps.add(new StopStep(List.of(group.get(i))));
      }
    }
    for (Child<?> member : group) {
      if (member.wanted && member.spec.restart() != Restart.TEMPORARY) {
        restart.steps.add(new StartStep(member));
      }
    }
    return restart;
  }

  private void escalate(String reason, Throwable cause) {
    String message = "supervisor " + context.getSelf().path() + " " + reason
        + "; it has stopped its children and fails";
    // Akka logs the failure itself once the children are stopped; this says why the stopping begins.
    context.getLog().warn("supervisor {}; stopping its children in reverse start order, then failing", reason);
    job = new Job(Kind.ESCALATE, null, null);
    job.failure = new SupervisorFailedException(message, cause);
    stopAll(job);
    exits.clear();
    refuseQueued();
  }

  /** Stop steps for every running child: in reverse start order, or all at once for simple_one_for_one. */
  private void stopAll(Job stop) {
    List<Child<?>> running = children.stream().filter(child -> child.ref != null).toList();
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
      if (!running.isEmpty()) {
        stop.steps.add(new StopStep(running));
      }
    } else {
      for (int i = running.size() - 1; i >= 0; i--) {
        stop.steps.add(new StopStep(List.of(running.get(i))));
      }
    }
  }

  private Behavior<Command> onStopTimedOut(StopTimedOut msg) {
    for (Child<?> child : stopping) {
      if (child.token == msg.token() && child.ref != null) {
        context.getLog().warn("child '{}' did not stop within {}; stopping it at once", child.id,
            child.spec.shutdown());
        context.stop(child.ref);
      }
    }
    return this;
  }

  private Behavior<Command> onReportStarted(ReportStarted msg) {
    if (started) {
      msg.parent().tell(new ChildStarted(msg.token()));
    } else {
      startWaiters.add(msg);
    }
    return this;
  }

  // ---- requests ----

  private boolean stoppingSelf() {
    return job != null && (job.kind == Kind.SHUTDOWN || job.kind == Kind.ESCALATE);
  }

  /** Queues a request that changes the children; it is performed when nothing else is in progress. */
  private Behavior<Command> onRequest(Command request) {
    if (stoppingSelf()) {
      refuse(request);
      return this;
    }
    requests.add(request);
    return advance();
  }

  private void perform(Command request) {
    if (request instanceof StartChild msg) {
      startChild(msg);
    } else if (request instanceof StartFromTemplate msg) {
      startFromTemplate(msg);
    } else if (request instanceof RestartChild msg) {
      restartChild(msg);
    } else if (request instanceof TerminateChild msg) {
      terminateChild(msg);
    } else if (request instanceof DeleteChild msg) {
      deleteChild(msg);
    } else if (request instanceof Shutdown msg) {
      stopWaiters.add(msg.replyTo());
      shutdown();
    } else if (request == Stop.INSTANCE) {
      shutdown();
    }
  }

  private void startChild(StartChild msg) {
    ChildSpec<?> spec = msg.spec();
    Child<?> existing = find(spec.id());
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
      msg.replyTo().tell(new Refused(spec.id(), Refusal.SIMPLE_ONE_FOR_ONE));
    } else if (existing != null) {
      msg.replyTo().tell(new Refused(spec.id(), existing.ref != null ? Refusal.ALREADY_STARTED
          : Refusal.ALREADY_PRESENT));
    } else {
      Child<?> child = newChild(spec.id(), spec, null);
      children.add(child);
      job = new Job(Kind.START_CHILD, child, msg.replyTo());
      job.steps.add(new StartStep(child));
    }
  }

  private void startFromTemplate(StartFromTemplate msg) {
    if (template == null) {
      msg.replyTo().tell(new Refused(null, Refusal.NO_TEMPLATE));
      return;
    }
    Child<?> child = newChild(template.id() + "-" + ++templateSequence, template, msg.argument());
    children.add(child);
    job = new Job(Kind.START_CHILD, child, msg.replyTo());
    job.steps.add(new StartStep(child));
  }

  private void restartChild(RestartChild msg) {
    Child<?> child = find(msg.id());
    Refusal refusal = refusalForStoppedChild(child);
    if (refusal != null) {
      msg.replyTo().tell(new Refused(msg.id(), refusal));
    } else {
      job = new Job(Kind.RESTART_CHILD, child, msg.replyTo());
      job.steps.add(new StartStep(child));
    }
  }

  /** Why restart_child or delete_child cannot act on {@code child} (they need a stopped, kept child), or null. */
  private Refusal refusalForStoppedChild(Child<?> child) {
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
      return Refusal.SIMPLE_ONE_FOR_ONE;
    }
    if (child == null) {
      return Refusal.NOT_FOUND;
    }
    if (child.ref != null) {
      return Refusal.RUNNING;
    }
    return child.wanted ? Refusal.RESTARTING : null;
  }

  private void terminateChild(TerminateChild msg) {
    Child<?> child = find(msg.id());
    if (child == null) {
      msg.replyTo().tell(new Refused(msg.id(), Refusal.NOT_FOUND));
      return;
    }
    child.wanted = false;
    if (child.ref != null) {
      job = new Job(Kind.TERMINATE_CHILD, child, msg.replyTo());
      job.steps.add(new StopStep(List.of(child)));
    } else {
      if (strategy == Strategy.SIMPLE_ONE_FOR_ONE || child.spec.restart() == Restart.TEMPORARY) {
        children.remove(child);
      }
      msg.replyTo().tell(new Ok(msg.id()));
    }
  }

  private void deleteChild(DeleteChild msg) {
    Child<?> child = find(msg.id());
    Refusal refusal = refusalForStoppedChild(child);
    if (refusal != null) {
      msg.replyTo().tell(new Refused(msg.id(), refusal));
    } else {
      children.remove(child);
      msg.replyTo().tell(new Ok(msg.id()));
    }
  }

  private void shutdown() {
    job = new Job(Kind.SHUTDOWN, null, null);
    stopAll(job);
    refuseQueued();
  }

  private void refuseQueued() {
    requests.forEach(this::refuse);
    requests.clear();
  }

  private void refuse(Command request) {
    if (request instanceof StartChild msg) {
      msg.replyTo().tell(new Refused(msg.spec().id(), Refusal.STOPPING));
    } else if (request instanceof StartFromTemplate msg) {
      msg.replyTo().tell(new Refused(template == null ? null : template.id(), Refusal.STOPPING));
    } else if (request instanceof RestartChild msg) {
      msg.replyTo().tell(new Refused(msg.id(), Refusal.STOPPING));
    } else if (request instanceof TerminateChild msg) {
      msg.replyTo().tell(new Refused(msg.id(), Refusal.STOPPING));
    } else if (request instanceof DeleteChild msg) {
      msg.replyTo().tell(new Refused(msg.id(), Refusal.STOPPING));
    } else if (request instanceof Shutdown msg) {
      stopWaiters.add(msg.replyTo());
    }
  }

  private void answerStopWaiters() {
    stopWaiters.forEach(waiter -> waiter.tell(Done.getInstance()));
    stopWaiters.clear();
  }

  private Child<?> find(String id) {
    for (Child<?> child : children) {
      if (child.id.equals(id)) {
        return child;
      }
    }
    return null;
  }

  // ---- queries ----

  private Behavior<Command> onWhichChildren(WhichChildren msg) {
    List<ChildInfo> infos = new ArrayList<>(children.size());
    for (Child<?> child : children) {
      ChildInfo.Status status = child.ref != null ? ChildInfo.Status.RUNNING
          : child.wanted ? ChildInfo.Status.RESTARTING : ChildInfo.Status.UNDEFINED;
      infos.add(new ChildInfo(child.id, Optional.ofNullable(child.ref), status, child.spec.type()));
    }
    msg.replyTo().tell(new Children(List.copyOf(infos)));
    return this;
  }

  private Behavior<Command> onCountChildren(CountChildren msg) {
    int active = 0;
    int supervisors = 0;
    for (Child<?> child : children) {
      if (child.ref != null) {
        active++;
      }
      if (child.spec.type() == ChildType.SUPERVISOR) {
        supervisors++;
      }
    }
    msg.replyTo().tell(new ChildCounts(children.size(), active, supervisors, children.size() - supervisors));
    return this;
  }

  private Behavior<Command> onPostStop() {
    long alive = children.stream().filter(child -> child.ref != null).count();
    if (alive > 0) {
      context.getLog().info("supervisor stopped from outside, not by Shutdown or Stop: Akka stopped its {} running "
          + "children itself, in no particular order", alive);
    }
    requests.forEach(this::refuse);
    requests.clear();
    answerStopWaiters();
    return this;
  }

  /** An actor name from the child's id (Akka allows few characters) and the token, unique among the children. */
  private static String actorName(String id, long token) {
    return id.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + token;
  }
}
