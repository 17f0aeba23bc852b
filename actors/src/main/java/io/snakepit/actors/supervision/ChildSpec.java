package io.snakepit.actors.supervision;

import akka.actor.typed.Behavior;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * How a supervisor starts, restarts and stops one child: OTP's child spec. Immutable; the {@code with...} methods
 * return a changed copy.
 *
 * <p>The start factory is called on the supervisor's thread each time the child is started or restarted and must
 * return a fresh behaviour (a {@code Behaviors.setup} one, typically). The child is spawned with Akka's default
 * supervision, so an exception stops it and the supervisor sees it fail.
 *
 * <p>Defaults, as in OTP: {@link Restart#PERMANENT}; a worker gets {@code ShutdownSpec.timeout(5 s)}, a supervisor
 * {@link ShutdownSpec#INFINITY}. A worker has no stop message until one is given, and without one it is stopped at once
 * whatever its shutdown spec (see {@link ShutdownSpec}).
 *
 * @param <T> the child's message type; its stop message is one of them
 */
public final class ChildSpec<T> {

  private static final ShutdownSpec WORKER_SHUTDOWN = ShutdownSpec.timeout(Duration.ofSeconds(5));

  private final String id;
  private final Function<Object, Behavior<T>> start;
  private final Restart restart;
  private final ShutdownSpec shutdown;
  private final ChildType type;
  private final T stopMessage;

  private ChildSpec(String id, Function<Object, Behavior<T>> start, Restart restart, ShutdownSpec shutdown,
      ChildType type, T stopMessage) {
    this.id = id;
    this.start = start;
    this.restart = Objects.requireNonNull(restart, "restart");
    this.shutdown = Objects.requireNonNull(shutdown, "shutdown");
    this.type = type;
    this.stopMessage = stopMessage;
  }

  /** A worker started by calling {@code start}. As a simple_one_for_one template it ignores the start argument. */
  public static <T> ChildSpec<T> worker(String id, Supplier<Behavior<T>> start) {
    Objects.requireNonNull(start, "start");
    return new ChildSpec<>(checkId(id), argument -> start.get(), Restart.PERMANENT, WORKER_SHUTDOWN, ChildType.WORKER,
        null);
  }

  /**
   * A worker template for a {@link Strategy#SIMPLE_ONE_FOR_ONE} supervisor: each
   * {@link Supervisor.StartFromTemplate} passes its argument, which must be an {@code argumentType} (a boxed type for
   * primitives), to {@code start}.
   */
  public static <A, T> ChildSpec<T> template(String id, Class<A> argumentType, Function<? super A, Behavior<T>> start) {
    Objects.requireNonNull(argumentType, "argumentType");
    Objects.requireNonNull(start, "start");
    String checked = checkId(id);
    Function<Object, Behavior<T>> typed = argument -> {
      if (!argumentType.isInstance(argument)) {
        throw new IllegalArgumentException("child template '" + checked + "' takes a " + argumentType.getName()
            + ", but StartFromTemplate sent " + (argument == null ? "null" : "a " + argument.getClass().getName()));
      }
      return start.apply(argumentType.cast(argument));
    };
    return new ChildSpec<>(checked, typed, Restart.PERMANENT, WORKER_SHUTDOWN, ChildType.WORKER, null);
  }

  /**
   * A nested supervisor running {@link Supervisor#create} with these arguments, which are checked now. Its stop message
   * is {@link Supervisor.Stop}, so stopping it stops its own children in reverse order first; its shutdown is
   * {@link ShutdownSpec#INFINITY}.
   */
  public static ChildSpec<Supervisor.Command> supervisor(String id, Strategy strategy, int maxRestarts,
      Duration period, List<ChildSpec<?>> children) {
    Behavior<Supervisor.Command> behavior = Supervisor.create(strategy, maxRestarts, period, children);
    // A setup behaviour runs its factory again at each spawn, so one instance serves every restart.
    return new ChildSpec<>(checkId(id), argument -> behavior, Restart.PERMANENT, ShutdownSpec.INFINITY,
        ChildType.SUPERVISOR, Supervisor.Stop.INSTANCE);
  }

  /**
   * A nested supervisor whose behaviour {@code start} makes (it must run a {@link Supervisor}, possibly wrapped, for
   * example to publish its reference). Stop message and shutdown as for {@link #supervisor(String, Strategy, int,
   * Duration, List)}.
   */
  public static ChildSpec<Supervisor.Command> supervisor(String id, Supplier<Behavior<Supervisor.Command>> start) {
    Objects.requireNonNull(start, "start");
    return new ChildSpec<>(checkId(id), argument -> start.get(), Restart.PERMANENT, ShutdownSpec.INFINITY,
        ChildType.SUPERVISOR, Supervisor.Stop.INSTANCE);
  }

  /** This spec with another restart type. */
  public ChildSpec<T> withRestart(Restart restart) {
    return new ChildSpec<>(id, start, restart, shutdown, type, stopMessage);
  }

  /** This spec with another shutdown spec. */
  public ChildSpec<T> withShutdown(ShutdownSpec shutdown) {
    return new ChildSpec<>(id, start, restart, shutdown, type, stopMessage);
  }

  /** This spec with the message (of the child's own protocol) that asks the child to stop gracefully. */
  public ChildSpec<T> withStopMessage(T stopMessage) {
    return new ChildSpec<>(id, start, restart, shutdown, type, Objects.requireNonNull(stopMessage, "stopMessage"));
  }

  /** The child's name within its supervisor. */
  public String id() {
    return id;
  }

  /** When the child is restarted. */
  public Restart restart() {
    return restart;
  }

  /** How the child is stopped. */
  public ShutdownSpec shutdown() {
    return shutdown;
  }

  /** Worker or supervisor. */
  public ChildType type() {
    return type;
  }

  /** The message that asks the child to stop gracefully, if it has one. */
  public Optional<T> stopMessage() {
    return Optional.ofNullable(stopMessage);
  }

  /** A fresh behaviour for one start of the child. */
  Behavior<T> behavior(Object argument) {
    Behavior<T> behavior = start.apply(argument);
    if (behavior == null) {
      throw new IllegalStateException("the start factory of child '" + id + "' returned null instead of a Behavior");
    }
    return behavior;
  }

  @Override
  public String toString() {
    return "ChildSpec[" + id + ", " + type + ", " + restart + ", shutdown " + shutdown
        + (stopMessage == null ? "" : ", stop message " + stopMessage) + "]";
  }

  private static String checkId(String id) {
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("a child spec needs a non-empty id, got " + (id == null ? "null" : "\"\""));
    }
    return id;
  }
}
