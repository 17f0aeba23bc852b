package io.snakepit.actors.pool;

import akka.actor.DeadLetter;
import akka.actor.typed.Behavior;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.WorkerCallException;
import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.WorkerActor;

/**
 * The last line against a call that hangs: a call whose message reached no actor (its pool or worker had just
 * stopped) lands in dead letters, and this actor fails it with a typed error instead of leaving its caller waiting.
 */
public final class LostCalls {

  private LostCalls() {}

  /** Subscribes to dead letters and fails the calls found in them. */
  public static Behavior<DeadLetter> create() {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().eventStream().tell(new EventStream.Subscribe<>(DeadLetter.class, ctx.getSelf()));
      return Behaviors.receiveMessage(letter -> {
        Job job = job(letter.message());
        if (job != null && !job.isDone()) {
          ctx.getLog().warn("call to '{}' reached no actor ({}): failing it", job.request().getTool(),
              letter.recipient().path());
          job.fail(new WorkerCallException("call to '" + job.request().getTool() + "' was lost: "
              + letter.recipient().path().name() + " had stopped before it arrived. It never ran; retry it", null));
        }
        return Behaviors.same();
      });
    });
  }

  private static Job job(Object message) {
    if (message instanceof PoolActor.Submit submit) {
      return submit.job();
    }
    if (message instanceof WorkerActor.Execute execute) {
      return execute.job();
    }
    return null;
  }
}
