package io.snakepit.actors.supervision;

import java.util.ArrayDeque;
import org.slf4j.Logger;

/**
 * The children that ended by themselves and whose restart is still to be decided, oldest first, and the decision:
 * OTP's restart types, the strategy's restart group, and the restart intensity.
 */
final class Exits {

  /** What an exit comes to when there is something to do. */
  sealed interface Decision permits RestartGroup, GiveUp {}

  /** Restart the ended child's group with this job. */
  record RestartGroup(Job job) implements Decision {}

  /** The restart intensity is exceeded: the supervisor escalates, for this reason. */
  record GiveUp(String reason, Throwable cause) implements Decision {}

  /** An ended child; {@code failure} is null for a normal exit. */
  private record Exit(Child<?> child, long token, Throwable failure) {}

  private final ChildTable children;
  private final RestartIntensity intensity;
  private final Logger log;
  private final ArrayDeque<Exit> exits = new ArrayDeque<>();

  Exits(ChildTable children, RestartIntensity intensity, Logger log) {
    this.children = children;
    this.intensity = intensity;
    this.log = log;
  }

  /** The child's current actor ended; {@code failure} is null for a normal exit. */
  void ended(Child<?> child, Throwable failure) {
    exits.add(new Exit(child, child.token, failure));
  }

  /** A restart of the child failed to start it: that counts as its next exit, decided before any other. */
  void restartFailed(Child<?> child, Throwable cause) {
    exits.addFirst(new Exit(child, child.token, cause));
  }

  boolean isEmpty() {
    return exits.isEmpty();
  }

  /** Forgets every exit: the supervisor is escalating. */
  void clear() {
    exits.clear();
  }

  /** Decides on the oldest exit; null when there is nothing to do (not restarted, or restarted or removed since). */
  Decision decideNext() {
    Exit exit = exits.poll();
    Child<?> child = exit.child();
    if (child.running() || child.token != exit.token() || !children.contains(child)) {
      return null;
    }
    Restart restart = child.restart();
    String how = exit.failure() == null ? "stopped" : "failed: " + exit.failure();
    if (restart == Restart.TEMPORARY || (restart == Restart.TRANSIENT && exit.failure() == null)) {
      log.debug("{} child '{}' {}; not restarted", restart, child.id, how);
      child.wanted = false;
      children.forget(child);
      return null;
    }
    if (!intensity.allowsRestart()) {
      return new GiveUp("reached its restart intensity, " + intensity.limit() + " (the last: child '" + child.id
          + "' " + how + ")", exit.failure());
    }
    log.info("child '{}' {}; restarting ({})", child.id, how, children.strategy());
    return new RestartGroup(Job.restart(child, children.restartGroup(child)));
  }
}
