package io.snakepit.actors.supervision;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.actors.supervision.Supervisor.ChildStarted;
import io.snakepit.actors.supervision.Supervisor.Command;
import io.snakepit.actors.supervision.Supervisor.ReportStarted;
import io.snakepit.actors.supervision.Supervisor.StopTimedOut;
import java.util.Optional;

/**
 * One child spec of a supervisor and the actor that runs it, if any. Mutable; only its supervisor's thread touches it.
 *
 * @param <T> the child's message type
 */
final class Child<T> {

  /** Where the child's current actor is in its life. */
  enum State { DOWN, STARTING, RUNNING, STOPPING }

  final String id;
  final ChildSpec<T> spec;
  /** The start argument of a simple_one_for_one child; null for others. */
  final Object argument;
  /** The running actor; null while it is down. */
  ActorRef<T> ref;
  /** The actor started last, which a start request's reply names. */
  ActorRef<T> last;
  /** Which start of the child the actor is: messages about an older start carry an older token. */
  long token;
  State state = State.DOWN;
  /** Whether it is meant to run: it has started and has not been terminated, or ended for good. */
  boolean wanted;

  Child(String id, ChildSpec<T> spec, Object argument) {
    this.id = id;
    this.spec = spec;
    this.argument = argument;
  }

  boolean running() {
    return ref != null;
  }

  Restart restart() {
    return spec.restart();
  }

  /**
   * Spawns a new actor for it, the start numbered {@code token}, as a child of the supervisor whose context this is,
   * and watches it. A worker tells its start from the start report around its behaviour; a supervisor child once its
   * own children have started.
   */
  void spawn(ActorContext<Command> context, long token) {
    this.token = token;
    Behavior<T> behavior = spec.behavior(argument);
    ActorRef<Command> supervisor = context.getSelf();
    boolean nested = spec.type() == ChildType.SUPERVISOR;
    Behavior<T> reporting = nested ? behavior
        : StartReport.around(behavior, () -> supervisor.tell(new ChildStarted(token)));
    ref = context.spawn(reporting, actorName(id, token));
    last = ref;
    state = State.STARTING;
    context.watch(ref);
    if (nested) {
      ref.<Command>unsafeUpcast().tell(new ReportStarted(supervisor, token));
    }
  }

  /**
   * Asks its running actor to stop as its shutdown spec says: at once when brutal_kill or without a stop message;
   * else with its stop message, and at once when the shutdown timeout (if any) expires.
   */
  void stop(ActorContext<Command> context, TimerScheduler<Command> timers) {
    state = State.STOPPING;
    ShutdownSpec shutdown = spec.shutdown();
    if (shutdown.isBrutalKill() || spec.stopMessage().isEmpty()) {
      context.stop(ref);
    } else {
      spec.stopMessage().ifPresent(ref::tell);
      shutdown.timeout().ifPresent(timeout ->
          timers.startSingleTimer(stopTimer(token), new StopTimedOut(token), timeout));
    }
  }

  /** Its actor has ended: its shutdown timeout, if any, is moot. */
  void cancelStopTimer(TimerScheduler<Command> timers) {
    timers.cancel(stopTimer(token));
  }

  private static String stopTimer(long token) {
    return "stop-" + token;
  }

  /** An actor name from the child's id (Akka allows few characters) and the token, unique among the children. */
  static String actorName(String id, long token) {
    return id.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + token;
  }

  /** Its actor has reported its start. */
  void started() {
    state = State.RUNNING;
    wanted = true;
  }

  /** Its actor has ended, or could not be spawned. */
  void down() {
    ref = null;
    state = State.DOWN;
  }

  /** How {@link Supervisor.WhichChildren} reports it. */
  ChildInfo info() {
    ChildInfo.Status status = ref != null ? ChildInfo.Status.RUNNING
        : wanted ? ChildInfo.Status.RESTARTING : ChildInfo.Status.UNDEFINED;
    return new ChildInfo(id, Optional.ofNullable(ref), status, spec.type());
  }

  @Override
  public String toString() {
    return "child '" + id + "' (" + state + ")";
  }
}
