package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import java.util.concurrent.CompletableFuture;

/** Links for tests of the {@code Pool} handle: a link whose coordinator is already up, typically a probe. */
public final class PoolLinks {
  private PoolLinks() {}

  /** A link, settled, whose coordinator is {@code coordinator}. */
  public static PoolLink to(ActorRef<PoolActor.Command> coordinator) {
    PoolLink link = new PoolLink(CompletableFuture.completedFuture(null));
    link.coordinatorUp(coordinator);
    return link;
  }
}
