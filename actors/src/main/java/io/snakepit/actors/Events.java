package io.snakepit.actors;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import io.snakepit.SnakepitEvent;
import java.util.function.Consumer;

/**
 * Publishes a node's {@link SnakepitEvent}s on its actor system's event stream. The classic stream's publish is a
 * direct hand-off to the subscribers of the event's class (the typed stream's {@code Publish} would be one message more
 * per event), and costs a lookup when nobody subscribes: calls publish two events each.
 */
public final class Events {
  private final Consumer<Object> stream;
  private final String instance;

  private Events(Consumer<Object> stream, String instance) {
    this.stream = stream;
    this.instance = instance;
  }

  /** The publisher of {@code system}'s node. */
  public static Events of(ActorSystem<?> system) {
    return new Events(Adapter.toClassic(system).eventStream()::publish,
        system.settings().config().getString("snakepit.instance"));
  }

  /** A publisher that hands each event to {@code sink}: a test's. */
  public static Events to(Consumer<SnakepitEvent> sink, String instance) {
    return new Events(event -> sink.accept((SnakepitEvent) event), instance);
  }

  /** A publisher that drops every event. */
  public static Events none() {
    return new Events(event -> {}, "");
  }

  /** The node's instance name, which every event carries. */
  public String instance() {
    return instance;
  }

  public void publish(SnakepitEvent event) {
    stream.accept(event);
  }
}
