package io.snakepit.actors.supervision;

import akka.actor.typed.ActorRef;
import io.snakepit.actors.supervision.Supervisor.Reply;
import java.util.ArrayDeque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a supervisor is doing: steps done one after the other, each waiting for the children it starts or stops before
 * the next begins. Holds the order OTP prescribes: start in start order, stop in reverse start order.
 */
final class Job {

  /** Why the job runs, which says how its end is answered. */
  enum Kind { INITIAL, RESTART, START_CHILD, RESTART_CHILD, TERMINATE_CHILD, SHUTDOWN, ESCALATE }

  /** One step: start one child, or stop some. */
  sealed interface Step permits StartStep, StopStep {}

  /** Start this child and wait until it has started. */
  record StartStep(Child<?> child) implements Step {}

  /** Stop these children at once (one of them, except for simple_one_for_one) and wait for all. */
  record StopStep(List<Child<?>> children) implements Step {}

  private final Kind kind;
  private final Child<?> subject;
  private final ActorRef<Reply> replyTo;
  private final SupervisorFailedException failure;
  private final ArrayDeque<Step> steps = new ArrayDeque<>();
  /** The child the current step has spawned and waits to hear has started; null if none. */
  private Child<?> starting;
  /** The children the current step has asked to stop and waits to end. */
  private final Set<Child<?>> stopping = new LinkedHashSet<>();

  private Job(Kind kind, Child<?> subject, ActorRef<Reply> replyTo, SupervisorFailedException failure) {
    this.kind = kind;
    this.subject = subject;
    this.replyTo = replyTo;
    this.failure = failure;
  }

  /** A supervisor's first start: its children, in order. */
  static Job initial(List<Child<?>> children) {
    Job job = new Job(Kind.INITIAL, null, null, null);
    children.forEach(child -> job.steps.add(new StartStep(child)));
    return job;
  }

  /** Start {@code child} for a request ({@link Kind#START_CHILD} or {@link Kind#RESTART_CHILD}) that waits on it. */
  static Job start(Kind kind, Child<?> child, ActorRef<Reply> replyTo) {
    Job job = new Job(kind, child, replyTo, null);
    job.steps.add(new StartStep(child));
    return job;
  }

  /** Stop {@code child} for a terminate request that waits on it. */
  static Job terminate(Child<?> child, ActorRef<Reply> replyTo) {
    Job job = new Job(Kind.TERMINATE_CHILD, child, replyTo, null);
    job.steps.add(new StopStep(List.of(child)));
    return job;
  }

  /**
   * Restart {@code group} (in start order) after {@code child} ended: stop its running members in reverse order, then
   * start those that should run, in order. A temporary member is stopped and not started again.
   */
  static Job restart(Child<?> child, List<Child<?>> group) {
    Job job = new Job(Kind.RESTART, child, null, null);
    for (int i = group.size() - 1; i >= 0; i--) {
      if (group.get(i).running()) {
        job.steps.add(new StopStep(List.of(group.get(i))));
      }
    }
    for (Child<?> member : group) {
      if (member.wanted && member.restart() != Restart.TEMPORARY) {
        job.steps.add(new StartStep(member));
      }
    }
    return job;
  }

  /** Stop the supervisor: its {@code running} children (in start order) as {@link #stopAll} says, then itself. */
  static Job shutdown(List<Child<?>> running, boolean allAtOnce) {
    return stopAll(new Job(Kind.SHUTDOWN, null, null, null), running, allAtOnce);
  }

  /** Stop the {@code running} children as {@link #stopAll} says, then fail with {@code failure}. */
  static Job escalate(List<Child<?>> running, boolean allAtOnce, SupervisorFailedException failure) {
    return stopAll(new Job(Kind.ESCALATE, null, null, failure), running, allAtOnce);
  }

  /** One step per child in reverse start order, or one step for all at once (simple_one_for_one). */
  private static Job stopAll(Job job, List<Child<?>> running, boolean allAtOnce) {
    if (allAtOnce) {
      if (!running.isEmpty()) {
        job.steps.add(new StopStep(running));
      }
    } else {
      for (int i = running.size() - 1; i >= 0; i--) {
        job.steps.add(new StopStep(List.of(running.get(i))));
      }
    }
    return job;
  }

  Kind kind() {
    return kind;
  }

  /** The child a request's job starts or stops; null for other jobs. */
  Child<?> subject() {
    return subject;
  }

  /** Why an {@link Kind#ESCALATE} job's supervisor fails at its end; null for other jobs. */
  SupervisorFailedException failure() {
    return failure;
  }

  /** Answers the request whose job ends here: started, or terminated. Other jobs have no one to answer. */
  void answer() {
    switch (kind) {
      case START_CHILD, RESTART_CHILD -> replyTo.tell(new Supervisor.Started(subject.id, subject.last));
      case TERMINATE_CHILD -> replyTo.tell(new Supervisor.Ok(subject.id));
      default -> { }
    }
  }

  /** Answers the request whose child failed to start with {@code cause}; other jobs have no one to answer. */
  void answer(Throwable cause) {
    if (replyTo != null) {
      replyTo.tell(new Supervisor.Failed(subject.id, cause));
    }
  }

  /** The steps still to do, in order. */
  List<Step> steps() {
    return List.copyOf(steps);
  }

  /** Whether the current step still waits for a child to start or to end. */
  boolean waiting() {
    return starting != null || !stopping.isEmpty();
  }

  /** The next step, taken off the job; null when the job is done. */
  Step next() {
    return steps.poll();
  }

  void startBegun(Child<?> child) {
    starting = child;
  }

  /** The child being started, if its start {@code token} is this one: it has started, and the step is done. */
  Child<?> started(long token) {
    Child<?> child = starting;
    if (child == null || child.token != token || child.state != Child.State.STARTING) {
      return null;
    }
    starting = null;
    return child;
  }

  /** The child being started ended before it said it had started. */
  void startEnded() {
    starting = null;
  }

  void stopBegun(Child<?> child) {
    stopping.add(child);
  }

  void stopEnded(Child<?> child) {
    stopping.remove(child);
  }

  /** The child being stopped whose current actor has {@code token}, still alive; null if none. */
  Child<?> stopping(long token) {
    for (Child<?> child : stopping) {
      if (child.token == token && child.running()) {
        return child;
      }
    }
    return null;
  }
}
