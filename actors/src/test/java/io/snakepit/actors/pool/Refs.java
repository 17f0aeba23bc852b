package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import io.snakepit.actors.worker.WorkerActor;
import java.lang.reflect.Proxy;

/** Stand-in worker refs for the pool's plain classes, which only hold and compare them (no actor system). */
final class Refs {

  private Refs() {}

  /** A ref that is equal only to itself; any message sent to it fails the test. */
  @SuppressWarnings("unchecked")
  static ActorRef<WorkerActor.Command> worker(String name) {
    return (ActorRef<WorkerActor.Command>) Proxy.newProxyInstance(Refs.class.getClassLoader(),
        new Class<?>[] {ActorRef.class}, (proxy, method, args) -> switch (method.getName()) {
          case "toString" -> "worker ref " + name;
          case "hashCode" -> System.identityHashCode(proxy);
          case "equals" -> proxy == args[0];
          default -> throw new UnsupportedOperationException(method.getName() + " on a stand-in worker ref");
        });
  }
}
