package io.snakepit.actors.supervision;

import akka.actor.typed.Behavior;
import akka.actor.typed.BehaviorInterceptor;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.Behaviors;

/**
 * Runs an action once a child's start (its setup, however deeply nested) has returned: how a supervisor learns that a
 * worker has started.
 *
 * @param <T> the child's message type
 */
final class StartReport<T> extends BehaviorInterceptor<T, T> {

  private final Runnable started;

  private StartReport(Runnable started) {
    super(anyMessage());
    this.started = started;
  }

  /** {@code behavior}, which runs {@code started} once its start has returned. */
  static <T> Behavior<T> around(Behavior<T> behavior, Runnable started) {
    return Behaviors.intercept(() -> new StartReport<T>(started), behavior);
  }

  @Override
  public Behavior<T> aroundStart(TypedActorContext<T> ctx, PreStartTarget<T> target) {
    Behavior<T> behavior = target.start(ctx);
    started.run();
    return behavior;
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
