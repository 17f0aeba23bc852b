package io.snakepit.actors.supervision;

import akka.actor.typed.ActorRef;
import io.snakepit.actors.supervision.Supervisor.Refusal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A supervisor's children in start order, found by id or by actor, and which of them a strategy restarts or a
 * request may act on. A simple_one_for_one table also holds the template its children are made from.
 */
final class ChildTable {

  private final Strategy strategy;
  /** The simple_one_for_one template; null for the other strategies. */
  private final ChildSpec<?> template;
  private final List<Child<?>> children = new ArrayList<>();
  private final Map<ActorRef<?>, Child<?>> byActor = new HashMap<>();
  private long templateSequence;

  /** The children of {@code specs} in that order, none running; a simple_one_for_one table takes its template. */
  ChildTable(Strategy strategy, List<ChildSpec<?>> specs) {
    this.strategy = strategy;
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE) {
      template = specs.get(0);
    } else {
      template = null;
      specs.forEach(this::add);
    }
  }

  /** {@code specs} as an immutable list, if a supervisor with {@code strategy} can take them; else it fails. */
  static List<ChildSpec<?>> check(Strategy strategy, List<ChildSpec<?>> specs) {
    List<ChildSpec<?>> copy = List.copyOf(Objects.requireNonNull(specs, "children"));
    Set<String> ids = new HashSet<>();
    for (ChildSpec<?> spec : copy) {
      if (!ids.add(spec.id())) {
        throw new IllegalArgumentException("two child specs have the id '" + spec.id() + "'; ids must be unique");
      }
    }
    if (strategy == Strategy.SIMPLE_ONE_FOR_ONE && copy.size() != 1) {
      throw new IllegalArgumentException("a simple_one_for_one supervisor takes exactly one child spec, its template; got "
          + copy.size());
    }
    return copy;
  }

  Strategy strategy() {
    return strategy;
  }

  boolean simpleOneForOne() {
    return strategy == Strategy.SIMPLE_ONE_FOR_ONE;
  }

  /** The template's id; null without a template. */
  String templateId() {
    return template == null ? null : template.id();
  }

  /** A copy of the children in start order. */
  List<Child<?>> inStartOrder() {
    return List.copyOf(children);
  }

  /** The children whose actor is alive, in start order. */
  List<Child<?>> running() {
    return children.stream().filter(Child::running).toList();
  }

  int size() {
    return children.size();
  }

  boolean contains(Child<?> child) {
    return children.contains(child);
  }

  /** The child with that id, or null. */
  Child<?> find(String id) {
    for (Child<?> child : children) {
      if (child.id.equals(id)) {
        return child;
      }
    }
    return null;
  }

  /** A new last child from {@code spec}, not running. */
  <T> Child<T> add(ChildSpec<T> spec) {
    return append(new Child<>(spec.id(), spec, null));
  }

  /** A new last child from the template with this start argument; its id is the template's, a dash and a number. */
  Child<?> addFromTemplate(Object argument) {
    if (template == null) {
      throw new IllegalStateException("a " + strategy + " supervisor has no template; only simple_one_for_one has");
    }
    return append(new Child<>(template.id() + "-" + ++templateSequence, template, argument));
  }

  private <T> Child<T> append(Child<T> child) {
    children.add(child);
    return child;
  }

  void remove(Child<?> child) {
    children.remove(child);
  }

  /**
   * Removes a child that will not run again unless its spec is kept: OTP keeps no spec of a temporary child, nor of a
   * simple_one_for_one one.
   */
  void forget(Child<?> child) {
    if (child.restart() == Restart.TEMPORARY || simpleOneForOne()) {
      children.remove(child);
    }
  }

  /** A child its supervisor has stopped: forgotten if {@code terminated} (see {@link #forget}), or if temporary. */
  void stopped(Child<?> child, boolean terminated) {
    if (terminated) {
      forget(child);
    } else if (child.restart() == Restart.TEMPORARY) {
      children.remove(child);
    }
  }

  /** Its actor is alive: ended actors are found by it. */
  void spawned(Child<?> child) {
    byActor.put(child.ref, child);
  }

  /** The child whose actor this was, no longer found by it; null if none was. */
  Child<?> ended(ActorRef<?> actor) {
    return byActor.remove(actor);
  }

  /** The children that restart with {@code child} under this strategy, in start order. */
  List<Child<?>> restartGroup(Child<?> child) {
    return switch (strategy) {
      case ONE_FOR_ALL -> List.copyOf(children);
      case REST_FOR_ONE -> List.copyOf(children.subList(children.indexOf(child), children.size()));
      case ONE_FOR_ONE, SIMPLE_ONE_FOR_ONE -> List.of(child);
    };
  }

  /** Why a child with this spec id cannot be added (OTP's start_child with a spec), or null if it can. */
  Refusal refusalToAdd(String id) {
    if (simpleOneForOne()) {
      return Refusal.SIMPLE_ONE_FOR_ONE;
    }
    Child<?> existing = find(id);
    if (existing == null) {
      return null;
    }
    return existing.running() ? Refusal.ALREADY_STARTED : Refusal.ALREADY_PRESENT;
  }

  /** Why restart_child or delete_child cannot act on {@code child} (they need a stopped, kept child), or null. */
  Refusal refusalForStopped(Child<?> child) {
    if (simpleOneForOne()) {
      return Refusal.SIMPLE_ONE_FOR_ONE;
    }
    if (child == null) {
      return Refusal.NOT_FOUND;
    }
    if (child.running()) {
      return Refusal.RUNNING;
    }
    return child.wanted ? Refusal.RESTARTING : null;
  }

  /** The children in start order, as {@link Supervisor.WhichChildren} reports them. */
  List<ChildInfo> infos() {
    return children.stream().map(Child::info).toList();
  }

  /** The counts {@link Supervisor.CountChildren} reports. */
  ChildCounts counts() {
    int active = 0;
    int supervisors = 0;
    for (Child<?> child : children) {
      if (child.running()) {
        active++;
      }
      if (child.spec.type() == ChildType.SUPERVISOR) {
        supervisors++;
      }
    }
    return new ChildCounts(children.size(), active, supervisors, children.size() - supervisors);
  }
}
