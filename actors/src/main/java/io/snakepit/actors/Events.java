package io.snakepit.actors;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.javadsl.Adapter;
import io.snakepit.SnakepitEvent;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Publishes a node's {@link SnakepitEvent}s on its actor system's event stream. The classic stream's publish is a
 * direct hand-off to the subscribers of the event's class (the typed stream's {@code Publish} would be one message more
 * per event), and costs a lookup when nobody subscribes: calls publish two events each.
 *
 * <p>Each event also goes, on the publishing thread, to the node's {@link Taps}: listeners that must see every event
 * without an actor's mailbox in between (the metrics, which record each call's end).
 */
public final class Events {
  private final Consumer<Object> stream;
  private final String instance;
  private final Taps taps;

  private Events(Consumer<Object> stream, String instance, Taps taps) {
    this.stream = stream;
    this.instance = instance;
    this.taps = taps;
  }

  /** The publisher of {@code system}'s node. */
  public static Events of(ActorSystem<?> system) {
    return new Events(Adapter.toClassic(system).eventStream()::publish,
        system.settings().config().getString("snakepit.instance"), Taps.of(system));
  }

  /** A publisher that hands each event to {@code sink}: a test's. */
  public static Events to(Consumer<SnakepitEvent> sink, String instance) {
    return new Events(event -> sink.accept((SnakepitEvent) event), instance, new Taps());
  }

  /** A publisher that drops every event. */
  public static Events none() {
    return new Events(event -> {}, "", new Taps());
  }

  /** The node's instance name, which every event carries. */
  public String instance() {
    return instance;
  }

  public void publish(SnakepitEvent event) {
    stream.accept(event);
    taps.accept(event);
  }

  /**
   * The listeners every event of one node is handed to directly, on the thread that publishes it (a worker's or a
   * pool's actor, the settlement's): each must be quick, thread-safe, and must not block. Nothing is added per event
   * while there is none but a read of one field.
   */
  public static final class Taps implements Extension {
    private static final ExtensionId<Taps> ID = new ExtensionId<>() {
      @Override
      public Taps createExtension(ActorSystem<?> system) {
        return new Taps();
      }
    };
    @SuppressWarnings("unchecked")
    private volatile Consumer<SnakepitEvent>[] listeners = new Consumer[0];

    private Taps() {}

    /** The taps of {@code system}'s node (they exist before the node starts, so a listener sees its first event). */
    public static Taps of(ActorSystem<?> system) {
      return ID.apply(system);
    }

    /** Hands every event published from now on to {@code listener} too. */
    public synchronized void add(Consumer<SnakepitEvent> listener) {
      Consumer<SnakepitEvent>[] more = Arrays.copyOf(listeners, listeners.length + 1);
      more[listeners.length] = listener;
      listeners = more;
    }

    private void accept(SnakepitEvent event) {
      for (Consumer<SnakepitEvent> listener : listeners) {
        listener.accept(event);
      }
    }
  }
}
