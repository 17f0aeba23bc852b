package io.snakepit.actors.supervision;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.BehaviorBuilder;
import akka.japi.function.Function;
import io.snakepit.actors.supervision.Supervisor.Command;
import io.snakepit.actors.supervision.Supervisor.DeleteChild;
import io.snakepit.actors.supervision.Supervisor.Ok;
import io.snakepit.actors.supervision.Supervisor.Refusal;
import io.snakepit.actors.supervision.Supervisor.Refused;
import io.snakepit.actors.supervision.Supervisor.Reply;
import io.snakepit.actors.supervision.Supervisor.RestartChild;
import io.snakepit.actors.supervision.Supervisor.Shutdown;
import io.snakepit.actors.supervision.Supervisor.StartChild;
import io.snakepit.actors.supervision.Supervisor.StartFromTemplate;
import io.snakepit.actors.supervision.Supervisor.Stop;
import io.snakepit.actors.supervision.Supervisor.TerminateChild;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The requests that change a supervisor's children (OTP's start_child, restart_child, terminate_child, delete_child,
 * and the supervisor's own stop): those waiting their turn, and how each is answered: at once, or by the end of the
 * {@link Job} it becomes. Also who waits for the supervisor to stop.
 */
final class Requests {

  /** The message types that are requests. */
  private static final List<Class<? extends Command>> TYPES = List.of(StartChild.class, StartFromTemplate.class,
      RestartChild.class, TerminateChild.class, DeleteChild.class, Shutdown.class, Stop.class);

  /** {@code builder}, which also hands every request to {@code handler}. */
  static BehaviorBuilder<Command> onEach(BehaviorBuilder<Command> builder, Function<Command, Behavior<Command>> handler) {
    for (Class<? extends Command> type : TYPES) {
      builder = on(builder, type, handler);
    }
    return builder;
  }

  private static <M extends Command> BehaviorBuilder<Command> on(BehaviorBuilder<Command> builder, Class<M> type,
      Function<Command, Behavior<Command>> handler) {
    return builder.onMessage(type, handler::apply);
  }

  private final ChildTable children;
  private final ArrayDeque<Command> waiting = new ArrayDeque<>();
  private final List<ActorRef<Done>> stopWaiters = new ArrayList<>();

  Requests(ChildTable children) {
    this.children = children;
  }

  /** Queues a request until nothing else is in progress. */
  void add(Command request) {
    waiting.add(request);
  }

  boolean isEmpty() {
    return waiting.isEmpty();
  }

  /**
   * Performs the oldest waiting request: answers it and returns null, or returns the job whose end answers it. A stop
   * request's job is {@link Job.Kind#SHUTDOWN}, and every request still waiting is refused.
   */
  Job performNext() {
    Command request = waiting.poll();
    if (request instanceof StartChild msg) {
      Refusal refusal = children.refusalToAdd(msg.spec().id());
      if (refusal == null) {
        return Job.start(Job.Kind.START_CHILD, children.add(msg.spec()), msg.replyTo());
      }
      msg.replyTo().tell(new Refused(msg.spec().id(), refusal));
    } else if (request instanceof StartFromTemplate msg) {
      if (children.templateId() != null) {
        return Job.start(Job.Kind.START_CHILD, children.addFromTemplate(msg.argument()), msg.replyTo());
      }
      msg.replyTo().tell(new Refused(null, Refusal.NO_TEMPLATE));
    } else if (request instanceof RestartChild msg) {
      Child<?> child = stoppedChild(msg.id(), msg.replyTo());
      if (child != null) {
        return Job.start(Job.Kind.RESTART_CHILD, child, msg.replyTo());
      }
    } else if (request instanceof TerminateChild msg) {
      return terminate(msg);
    } else if (request instanceof DeleteChild msg) {
      Child<?> child = stoppedChild(msg.id(), msg.replyTo());
      if (child != null) {
        children.remove(child);
        msg.replyTo().tell(new Ok(msg.id()));
      }
    } else if (request instanceof Shutdown || request == Stop.INSTANCE) {
      if (request instanceof Shutdown msg) {
        stopWaiters.add(msg.replyTo());
      }
      refuseAll();
      return Job.shutdown(children.running(), children.simpleOneForOne());
    }
    return null;
  }

  /** The kept, stopped child that restart_child or delete_child acts on; or null, having told why not. */
  private Child<?> stoppedChild(String id, ActorRef<Reply> replyTo) {
    Child<?> child = children.find(id);
    Refusal refusal = children.refusalForStopped(child);
    if (refusal != null) {
      replyTo.tell(new Refused(id, refusal));
      return null;
    }
    return child;
  }

  /** A running child is stopped by a job; one that is not is only marked as not to be restarted. */
  private Job terminate(TerminateChild msg) {
    Child<?> child = children.find(msg.id());
    if (child == null) {
      msg.replyTo().tell(new Refused(msg.id(), Refusal.NOT_FOUND));
      return null;
    }
    child.wanted = false;
    if (child.running()) {
      return Job.terminate(child, msg.replyTo());
    }
    children.forget(child);
    msg.replyTo().tell(new Ok(msg.id()));
    return null;
  }

  /** Refuses every waiting request: the supervisor is stopping. */
  void refuseAll() {
    waiting.forEach(this::refuse);
    waiting.clear();
  }

  /** Refuses a request because the supervisor is stopping; a {@link Shutdown} waits for the stop instead. */
  void refuse(Command request) {
    if (request instanceof StartChild msg) {
      msg.replyTo().tell(new Refused(msg.spec().id(), Refusal.STOPPING));
    } else if (request instanceof StartFromTemplate msg) {
      msg.replyTo().tell(new Refused(children.templateId(), Refusal.STOPPING));
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

  /** Tells everyone who waits for the supervisor's stop that it has stopped. */
  void answerStopWaiters() {
    stopWaiters.forEach(waiter -> waiter.tell(Done.getInstance()));
    stopWaiters.clear();
  }
}
