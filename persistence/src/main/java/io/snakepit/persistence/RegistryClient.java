package io.snakepit.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * Asks the registry, never with more commands in flight than {@code maxInFlight}: an event-sourced actor stashes
 * commands while it persists, and a full stash drops them silently. Callers past the bound wait here, in order.
 *
 * <p>Writes are batched: one {@link WorkerRegistry.WriteAll} is in flight at a time, and the writes that arrive
 * meanwhile go together in the next one (at most {@code batchSize}). Two hundred workers starting or stopping at once
 * cost a few database round trips, and a write's time limit counts from when its batch is sent, so it grows with
 * the writes queued ahead of it rather than failing them on a busy machine.
 */
public final class RegistryClient {
  private final ActorRef<WorkerRegistry.Command> registry;
  private final ActorSystem<?> system;
  private final Duration timeout;
  private final Duration readTimeout;
  private final Semaphore permits;
  private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();
  private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
  private final AtomicReference<Outage> outage = new AtomicReference<>();
  private final int batchSize;
  private final Queue<QueuedWrite> writes = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  private final AtomicLong batches = new AtomicLong();

  private record QueuedWrite(WorkerRegistry.Write write, CompletableFuture<Done> result) {}

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RegistryClient.class);

  /**
   * The journal failing writes since {@code since} (epoch ms), the first failure's message as {@code cause}.
   *
   * @param since when the first write failed
   * @param cause what it failed with
   */
  public record Outage(long since, String cause) {
    /** A sentence for errors and logs. */
    public String describe() {
      return "the worker registry's journal has failed writes for " + (System.currentTimeMillis() - since) / 1000
          + " s (" + cause + "); no worker is started until it takes writes again. Check the disk or database behind"
          + " snakepit.registry.db";
    }
  }

  /**
   * A client whose writes wait at most {@code timeout}, and whose reads at most {@code readTimeout}: the first read
   * at start waits for the registry's recovery, which takes longer on a large journal or a busy host; at most
   * {@code batchSize} writes go in one atomic write.
   */
  public RegistryClient(ActorRef<WorkerRegistry.Command> registry, ActorSystem<?> system, Duration timeout,
      Duration readTimeout, int maxInFlight, int batchSize) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("snakepit.registry.batch-size is " + batchSize + ": use 1 or more");
    }
    this.batchSize = batchSize;
    this.registry = registry;
    this.system = system;
    this.timeout = timeout;
    this.readTimeout = readTimeout;
    this.permits = new Semaphore(maxInFlight);
  }

  /** Whether the journal is failing writes, and since when; empty while it takes them. */
  public Optional<Outage> outage() {
    return Optional.ofNullable(outage.get());
  }

  /** A write that changes nothing, to learn whether the journal takes writes again. */
  public CompletionStage<Done> probe() {
    return write(new WorkerRegistry.Probe());
  }

  /** Journals a worker about to be spawned. */
  public CompletionStage<Done> reserve(String nonce, String workerId, String incarnation, String bootId) {
    return reserve(nonce, workerId, incarnation, bootId, List.of());
  }

  /**
   * Journals a worker about to be spawned, with the cgroups it will run in ({@code controller=directory}, as
   * {@code Cgroups.WorkerCgroup.recorded()} writes them): settlement kills and removes them.
   */
  public CompletionStage<Done> reserve(String nonce, String workerId, String incarnation, String bootId,
      List<String> cgroups) {
    long now = System.currentTimeMillis();
    return write(new WorkerRegistry.Reserve(nonce, workerId, incarnation, bootId, now, List.copyOf(cgroups)));
  }

  /** Journals a worker's identity; the worker may take calls once this completes. */
  public CompletionStage<Done> spawned(String nonce, SpawnedWorker spawned) {
    return write(new WorkerRegistry.RecordSpawned(nonce, spawned));
  }

  /** Journals that a worker's whole tree ended. */
  public CompletionStage<Done> exited(String nonce, String status) {
    return write(new WorkerRegistry.RecordExit(nonce, status));
  }

  /** Journals that a worker was left running for a next node (its entry stays open). */
  public CompletionStage<Done> detached(String nonce, String controlSocket, long until) {
    return write(new WorkerRegistry.RecordDetach(nonce, controlSocket, until));
  }

  /** Journals that a detached worker was adopted by this node: its entry is this node's again. */
  public CompletionStage<Done> adopted(String nonce) {
    return write(new WorkerRegistry.RecordAdopted(nonce));
  }

  /** Closes entries after a settlement. */
  public CompletionStage<Done> settle(List<WorkerRegistry.Closing> closings) {
    return closings.isEmpty() ? CompletableFuture.completedFuture(Done.getInstance())
        : write(new WorkerRegistry.Settle(List.copyOf(closings)));
  }

  /** The open entries. */
  public CompletionStage<List<RegistryEntry>> open() {
    return ask(WorkerRegistry.GetOpen::new, readTimeout);
  }

  /** How many incarnations the journal has recorded. */
  public CompletionStage<Long> incarnations() {
    return ask(WorkerRegistry.GetIncarnations::new, readTimeout);
  }

  /** Journals a new incarnation taking over; completes with the new count. */
  public CompletionStage<Long> beginIncarnation(String incarnation) {
    return tracked(ask(r -> new WorkerRegistry.BeginIncarnation(incarnation, r)));
  }

  /**
   * Completes once every command sent so far has been answered (written, or failed): a node's stop waits for it so
   * that the last workers' exits are journaled before the registry stops with the actor system.
   */
  public CompletionStage<Void> drained() {
    return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).exceptionally(error -> null);
  }

  /**
   * Completes once the registry's retention work after a snapshot has ended, or after {@code limit}: a stopping node
   * closes its journal after it (an H2 journal closed under a deletion logged a warning, and a PostgreSQL one held the
   * instance lock past the stop).
   */
  public CompletionStage<Done> housekeepingDone(Duration limit) {
    return AskPattern.<WorkerRegistry.Command, Done>ask(registry, WorkerRegistry.AwaitHousekeeping::new, limit,
        system.scheduler()).exceptionally(timedOutOrGone -> Done.getInstance());
  }

  /** How many atomic writes of batched writes were sent so far. */
  public long batches() {
    return batches.get();
  }

  /** Queues a write for the next batch. */
  private CompletionStage<Done> write(WorkerRegistry.Write write) {
    CompletableFuture<Done> result = new CompletableFuture<>();
    pending.add(result);
    result.whenComplete((value, error) -> pending.remove(result));
    writes.add(new QueuedWrite(write, result));
    flush();
    return tracked(result);
  }

  /** Sends the queued writes as one batch, unless one is in flight (its reply sends the next). */
  private void flush() {
    while (!writes.isEmpty() && writing.compareAndSet(false, true)) {
      List<QueuedWrite> batch = new ArrayList<>();
      for (QueuedWrite next; batch.size() < batchSize && (next = writes.poll()) != null; ) {
        batch.add(next);
      }
      if (batch.isEmpty()) {
        writing.set(false);
        continue; // another thread took them; look again, as one may have come since
      }
      batches.incrementAndGet();
      List<WorkerRegistry.Write> sent = batch.stream().map(QueuedWrite::write).toList();
      this.<Done>ask(r -> new WorkerRegistry.WriteAll(sent, r)).whenComplete((done, error) -> {
        writing.set(false);
        for (QueuedWrite w : batch) {
          if (error != null) {
            w.result().completeExceptionally(error);
          } else {
            w.result().complete(done);
          }
        }
        flush();
      });
      return;
    }
  }

  /** A write's outcome tells whether the journal takes writes: a success ends an outage, a failure starts one. */
  private <T> CompletionStage<T> tracked(CompletionStage<T> result) {
    result.whenComplete((value, error) -> {
      if (error == null) {
        Outage ended = outage.getAndSet(null);
        if (ended != null) {
          LOG.info("the worker registry's journal takes writes again after {} s",
              (System.currentTimeMillis() - ended.since()) / 1000);
        }
      } else if (outage.compareAndSet(null, new Outage(System.currentTimeMillis(),
          String.valueOf(error.getMessage()).split("\\. ", 2)[0]))) {
        LOG.error("the worker registry's journal failed a write: {}; no worker is started until it takes writes"
            + " again", error.getMessage());
      }
    });
    return result;
  }

  private <T> CompletionStage<T> ask(Function<ActorRef<T>, WorkerRegistry.Command> command) {
    return ask(command, timeout);
  }

  private <T> CompletionStage<T> ask(Function<ActorRef<T>, WorkerRegistry.Command> command, Duration timeout) {
    CompletableFuture<T> result = new CompletableFuture<>();
    pending.add(result);
    result.whenComplete((value, error) -> pending.remove(result));
    waiting.add(() -> AskPattern.ask(registry, command::apply, timeout, system.scheduler())
        .whenComplete((value, error) -> {
          permits.release();
          drain();
          if (error != null) {
            result.completeExceptionally(error);
          } else {
            result.complete(value);
          }
        }));
    drain();
    return result;
  }

  /** Sends waiting commands while permits last; called on every enqueue and every reply, so none is stranded. */
  private void drain() {
    while (!waiting.isEmpty() && permits.tryAcquire()) {
      Runnable next = waiting.poll();
      if (next == null) {
        permits.release();
        return;
      }
      next.run();
    }
  }
}
