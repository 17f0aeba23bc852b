package io.snakepit.actors.worker;

import akka.actor.typed.ActorRef;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node's ready workers, by worker id: what a planned restart ({@code snakepit detach}) asks to leave running. A
 * worker enters once it is ready and leaves when its actor stops; the pools keep their own books, this is only the
 * list the detach walks.
 */
public final class WorkerRoster {
  private final Map<String, ActorRef<WorkerActor.Command>> ready = new ConcurrentHashMap<>();

  void add(String workerId, ActorRef<WorkerActor.Command> worker) {
    ready.put(workerId, worker);
  }

  void remove(String workerId) {
    ready.remove(workerId);
  }

  /** The workers ready now. */
  public List<ActorRef<WorkerActor.Command>> workers() {
    return List.copyOf(ready.values());
  }
}
