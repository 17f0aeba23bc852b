package io.snakepit.actors.supervision;

import akka.Done;
import akka.actor.ActorInitializationException;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.ChildFailed;
import akka.actor.typed.PostStop;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.japi.function.Function;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
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
public final class Supervisor {

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

  /** The child with this token has started (from its start report, or from a nested supervisor). */
  record ChildStarted(long token) implements Command {}

  /** From a parent supervisor: tell it, with this token, once this supervisor's children have all started. */
  record ReportStarted(ActorRef<Command> parent, long token) implements Command {}

  /** The shutdown timeout of the child with this token has expired. */
  record StopTimedOut(long token) implements Command {}

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final ChildTable children;
  private final Exits exits;
  private final Requests requests;
  private final List<ReportStarted> startWaiters = new ArrayList<>();
  /** What the supervisor is doing; null when it is idle. */
  private Job job;
  private long tokens;

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
    RestartIntensity.check(maxRestarts, period);
    List<ChildSpec<?>> specs = ChildTable.check(strategy, children);
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Supervisor(ctx, timers,
        new ChildTable(strategy, specs), new RestartIntensity(maxRestarts, period, nanoClock)).begin()));
  }

  private Supervisor(ActorContext<Command> context, TimerScheduler<Command> timers, ChildTable children,
      RestartIntensity intensity) {
    this.context = context;
    this.timers = timers;
    this.children = children;
    this.exits = new Exits(children, intensity, context.getLog());
    this.requests = new Requests(children);
  }

  private Behavior<Command> begin() {
    job = Job.initial(children.inStartOrder());
    return then(starting(), advance());
  }

  // ---- phases ----

  /** Until the first children have all started: a parent's request for a start report waits for them. */
  private Behavior<Command> starting() {
    return phase(msg -> {
      startWaiters.add(msg);
      return Behaviors.same();
    }, this::queue);
  }

  /** Started: a parent's request for a start report is answered at once; requests wait their turn. */
  private Behavior<Command> running() {
    return phase(this::reportStarted, this::queue);
  }

  /** Stopping itself (shut down, or escalating): requests are refused; {@code started} says if it had started. */
  private Behavior<Command> stopping(boolean started) {
    return phase(started ? this::reportStarted : msg -> Behaviors.same(), msg -> {
      requests.refuse(msg);
      return Behaviors.same();
    });
  }

  private Behavior<Command> phase(Function<ReportStarted, Behavior<Command>> onReportStarted,
      Function<Command, Behavior<Command>> onRequest) {
    return Requests.onEach(always().onMessage(ReportStarted.class, onReportStarted), onRequest).build();
  }

  private Behavior<Command> reportStarted(ReportStarted msg) {
    msg.parent().tell(new ChildStarted(msg.token()));
    return Behaviors.same();
  }

  /** Queues a request that changes the children; it is performed when nothing else is in progress. */
  private Behavior<Command> queue(Command request) {
    requests.add(request);
    return advance();
  }

  /** What every phase handles alike: queries, its children starting and ending, timeouts, its own stop. */
  private BehaviorBuilder<Command> always() {
    return Behaviors.receive(Command.class)
        .onMessage(WhichChildren.class, msg -> {
          msg.replyTo().tell(new Children(children.infos()));
          return Behaviors.same();
        })
        .onMessage(CountChildren.class, msg -> {
          msg.replyTo().tell(children.counts());
          return Behaviors.same();
        })
        .onMessage(ChildStarted.class, this::onChildStarted)
        .onMessage(StopTimedOut.class, this::onStopTimedOut)
        .onSignal(ChildFailed.class, failed -> onExit(failed.getRef(), failed.getCause()))
        .onSignal(Terminated.class, terminated -> onExit(terminated.getRef(), null))
        .onSignal(PostStop.class, signal -> onPostStop());
  }

  /** {@code later} if it changes the behaviour, else {@code earlier}: of two steps, the last change holds. */
  private static Behavior<Command> then(Behavior<Command> earlier, Behavior<Command> later) {
    return later == Behaviors.<Command>same() ? earlier : later;
  }

  // ---- the work loop ----

  /**
   * Goes on with the current job as far as it can without waiting; then, when idle, decides the restarts of children
   * that ended, then performs queued requests, in that order. Returns the phase it leads to.
   */
  private Behavior<Command> advance() {
    Behavior<Command> next = Behaviors.same();
    while (true) {
      if (job != null) {
        if (job.waiting()) {
          return next;
        }
        Job.Step step = job.next();
        Behavior<Command> after = step != null ? begin(step) : finish();
        if (!Behavior.isAlive(after)) {
          return after;
        }
        next = then(next, after);
      } else if (!exits.isEmpty()) {
        Exits.Decision decision = exits.decideNext();
        if (decision instanceof Exits.RestartGroup restart) {
          job = restart.job();
        } else if (decision instanceof Exits.GiveUp giveUp) {
          next = escalate(giveUp.reason(), giveUp.cause(), true);
        }
      } else if (!requests.isEmpty()) {
        job = requests.performNext();
        if (job != null && job.kind() == Job.Kind.SHUTDOWN) {
          next = stopping(true);
        }
      } else {
        return next;
      }
    }
  }

  private Behavior<Command> begin(Job.Step step) {
    if (step instanceof Job.StartStep start) {
      Child<?> child = start.child();
      if (child.running() || !children.contains(child)) {
        return Behaviors.same();
      }
      try {
        child.spawn(context, ++tokens);
      } catch (RuntimeException e) {
        child.down();
        return startFailed(child, e);
      }
      children.spawned(child);
      job.startBegun(child);
    } else if (step instanceof Job.StopStep stop) {
      for (Child<?> child : stop.children()) {
        if (child.running() && child.state == Child.State.RUNNING) {
          child.stop(context, timers);
          job.stopBegun(child);
        }
      }
    }
    return Behaviors.same();
  }

  private Behavior<Command> finish() {
    Job done = job;
    job = null;
    switch (done.kind()) {
      case INITIAL -> {
        context.getLog().debug("supervisor started {} children", children.size());
        startWaiters.forEach(this::reportStarted);
        startWaiters.clear();
        return running();
      }
      case SHUTDOWN -> {
        requests.answerStopWaiters();
        return Behaviors.stopped();
      }
      case ESCALATE -> {
        requests.answerStopWaiters();
        throw done.failure();
      }
      default -> done.answer();
    }
    return Behaviors.same();
  }

  // ---- children starting and ending ----

  private Behavior<Command> onChildStarted(ChildStarted msg) {
    Child<?> child = job == null ? null : job.started(msg.token());
    if (child == null) {
      return Behaviors.same();
    }
    child.started();
    return advance();
  }

  private Behavior<Command> onExit(ActorRef<Void> ref, Throwable failure) {
    Child<?> child = children.ended(ref);
    if (child == null) {
      return Behaviors.same();
    }
    Child.State was = child.state;
    child.down();
    Behavior<Command> next = Behaviors.same();
    switch (was) {
      case STOPPING -> {
        child.cancelStopTimer(timers);
        job.stopEnded(child);
        if (failure != null) {
          context.getLog().warn("child '{}' failed while stopping: {}", child.id, failure.toString());
        }
        children.stopped(child, job.kind() == Job.Kind.TERMINATE_CHILD);
      }
      case STARTING -> {
        job.startEnded();
        if (failure != null) {
          next = startFailed(child, unwrap(failure));
        } else {
          // It stopped itself before its report arrived: it started, and ended normally.
          child.wanted = true;
          exits.ended(child, null);
        }
      }
      default -> exits.ended(child, failure);
    }
    return then(next, advance());
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof ActorInitializationException && failure.getCause() != null ? failure.getCause() : failure;
  }

  private Behavior<Command> startFailed(Child<?> child, Throwable cause) {
    context.getLog().warn("child '{}' failed to start: {}", child.id, cause.toString());
    switch (job.kind()) {
      case INITIAL -> {
        return escalate("could not start child '" + child.id + "': " + cause, cause, false);
      }
      // Abandon this restart; the failure counts as another exit, which the strategy and the intensity see.
      case RESTART -> exits.restartFailed(child, cause);
      case START_CHILD -> children.remove(child);
      case RESTART_CHILD -> child.wanted = false;
      default -> throw new IllegalStateException("a child was started during a " + job.kind() + " job");
    }
    job.answer(cause);
    job = null;
    return Behaviors.same();
  }

  /** Stops every child, then fails; {@code started} says whether the first start had finished. */
  private Behavior<Command> escalate(String reason, Throwable cause, boolean started) {
    String message = "supervisor " + context.getSelf().path() + " " + reason
        + "; it has stopped its children and fails";
    // Akka logs the failure itself once the children are stopped; this says why the stopping begins.
    context.getLog().warn("supervisor {}; stopping its children in reverse start order, then failing", reason);
    job = Job.escalate(children.running(), children.simpleOneForOne(), new SupervisorFailedException(message, cause));
    exits.clear();
    requests.refuseAll();
    return stopping(started);
  }

  private Behavior<Command> onStopTimedOut(StopTimedOut msg) {
    Child<?> child = job == null ? null : job.stopping(msg.token());
    if (child != null) {
      context.getLog().warn("child '{}' did not stop within {}; stopping it at once", child.id, child.spec.shutdown());
      context.stop(child.ref);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onPostStop() {
    int alive = children.running().size();
    if (alive > 0) {
      context.getLog().info("supervisor stopped from outside, not by Shutdown or Stop: Akka stopped its {} running "
          + "children itself, in no particular order", alive);
    }
    requests.refuseAll();
    requests.answerStopWaiters();
    return Behaviors.same();
  }
}
