package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Adoption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;

/**
 * What stays of a pool while its supervisor restarts its actors: where its current coordinator is (the {@code Pool}
 * handle sends there), and the settlement every coordinator must wait for before it starts workers.
 */
public final class PoolLink {
  private final AtomicReference<ActorRef<PoolActor.Command>> coordinator = new AtomicReference<>();
  private final CompletableFuture<ActorRef<PoolActor.Command>> first = new CompletableFuture<>();
  private final CompletionStage<?> settlement;
  /** The size of the last resize, 0 before any: a restarted coordinator keeps it. */
  private final AtomicInteger resizedTo = new AtomicInteger();
  /** Where callers take a lent worker's room without a message (docs/PERFORMANCE.md, Dispatch). */
  private final Lane lane = new Lane(this);
  /** Workers a planned restart left running, adopted by the node for this pool: its first coordinator takes them. */
  private final AtomicReference<List<Adoption>> adopted = new AtomicReference<>(List.of());
  /** How many adopted workers became ready in this pool. */
  private final AtomicInteger adoptedReady = new AtomicInteger();
  /** The current coordinator's queue length. */
  private volatile IntSupplier queueDepth = () -> 0;

  /** @param settlement completes once earlier JVMs' leftovers are settled (or fails: then no worker may start) */
  public PoolLink(CompletionStage<?> settlement) {
    this.settlement = settlement;
  }

  /** Sends to the current coordinator; before the first one is up, as soon as it is. */
  public void tell(PoolActor.Command message) {
    ActorRef<PoolActor.Command> current = coordinator.get();
    if (current != null) {
      current.tell(message);
    } else {
      first.thenAccept(ref -> coordinator.get().tell(message));
    }
  }

  /**
   * How long ago session {@code session} was last used in the pool, in milliseconds, or -1 if none of its workers
   * holds it; asked of the pool's actor.
   */
  public CompletableFuture<Long> sessionIdleMillis(String session) {
    CompletableFuture<Long> idle = new CompletableFuture<>();
    tell(new PoolActor.SessionIdle(session, idle));
    return idle;
  }

  /** The pool's settings with the size of its last resize, if there was one. */
  PoolSettings current(PoolSettings configured) {
    int workers = resizedTo.get();
    return workers > 0 ? configured.withWorkers(workers) : configured;
  }

  /** How many serving workers the pool keeps now: the size of its last resize, else {@code configured}'s. */
  public int size(PoolSettings configured) {
    return current(configured).workers();
  }

  /** The pool's lane: one-result calls try it before they go to the pool's actor. */
  public Lane lane() {
    return lane;
  }

  /** How many calls wait in the pool's queue now, read without a message to its actor (for its metrics). */
  public int queued() {
    return queueDepth.getAsInt();
  }

  void queueDepthFrom(IntSupplier depth) {
    this.queueDepth = depth;
  }

  void resized(int workers) {
    resizedTo.set(workers);
  }

  CompletionStage<?> settlement() {
    return settlement;
  }

  /** Hands the pool the workers adopted for it; set before the settlement completes. */
  public void adopt(List<Adoption> workers) {
    adopted.set(List.copyOf(workers));
  }

  /** The adopted workers not yet taken, once: a coordinator that restarts later starts fresh workers. */
  List<Adoption> takeAdopted() {
    return adopted.getAndSet(List.of());
  }

  /** How many workers adopted after a planned restart became ready in this pool (for serve's ready line). */
  public int adoptedReady() {
    return adoptedReady.get();
  }

  void adoptedWorkerReady() {
    adoptedReady.incrementAndGet();
  }

  void coordinatorUp(ActorRef<PoolActor.Command> ref) {
    coordinator.set(ref);
    first.complete(ref);
  }

  /** Called by the pool's worker supervisor as it starts: its coordinator starts workers under it. */
  public void workersUp(ActorRef<Supervisor.Command> workers) {
    tell(new PoolActor.WorkersUp(workers));
  }
}
