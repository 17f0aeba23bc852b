package io.snakepit.actors.worker;

import io.snakepit.Result;
import java.util.function.IntConsumer;

/**
 * Where a streaming call's items go. {@link #onItem} runs on gRPC's threads, one item at a time, in order. A receiver
 * that is {@link #paced()} gets items only as it asks for them through the demand handed to {@link #started}, so a
 * receiver that stops asking stops the worker's generator (HTTP/2 flow control fills, then its send blocks).
 */
@FunctionalInterface
public interface StreamItems {

  /** One item the tool yielded. */
  void onItem(Result item);

  /** Whether items come only as asked for; false: as fast as the worker sends them. */
  default boolean paced() {
    return false;
  }

  /**
   * The call started on a worker (again, if a crash retried it): {@code demand.accept(n)} asks for {@code n} more
   * items. Called on the worker actor's thread, for a paced receiver only; {@code demand} may be used from any thread,
   * and does nothing once the call has ended.
   */
  default void started(IntConsumer demand) {}
}
