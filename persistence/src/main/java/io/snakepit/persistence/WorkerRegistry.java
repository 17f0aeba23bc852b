package io.snakepit.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.BackoffSupervisorStrategy;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.Behaviors;
import akka.persistence.typed.DeleteEventsFailed;
import akka.persistence.typed.DeleteSnapshotsCompleted;
import akka.persistence.typed.DeleteSnapshotsFailed;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.SnapshotCompleted;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The journal of one (host, instance): every worker from its reservation (before its process exists) through its
 * spawn (its identity, written before it takes calls) to its settlement. Only open entries are kept in the state;
 * snapshots with retention keep recovery short. Every command is answered (replies are enforced: a handler that
 * forgot one would not compile).
 */
public final class WorkerRegistry extends
    EventSourcedBehaviorWithEnforcedReplies<WorkerRegistry.Command, WorkerRegistry.Event, WorkerRegistry.State> {

  /** What the registry accepts. Replies come once the events are durably written. */
  public interface Command {}

  /**
   * Writes journaled together in one atomic write ({@code persistAll}); the reply comes once all are durable.
   * {@link RegistryClient} gathers the writes that arrive while one is in flight, so a start or stop of many workers
   * costs a few database round trips, not one per worker.
   */
  public record WriteAll(List<Write> writes, ActorRef<Done> replyTo) implements Command {}

  /** One write: the events it journals. */
  public sealed interface Write {
    /** Its events, stamped {@code now} where they carry a time. */
    List<Event> events(long now);
  }

  /** Record a worker about to be spawned. */
  public record Reserve(String nonce, String workerId, String incarnation, String bootId, long at,
      List<String> cgroups) implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Reserved(nonce, workerId, incarnation, bootId, at, cgroups));
    }
  }

  /** Record a worker's identity once it is up; it may take calls after the reply. */
  public record RecordSpawned(String nonce, SpawnedWorker spawned) implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Spawned(nonce, spawned));
    }
  }

  /**
   * Record that a worker was left running for a next node (a planned restart): its entry stays open, and says where
   * its shim waits and until when.
   */
  public record RecordDetach(String nonce, String controlSocket, long until) implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Detached(nonce, controlSocket, until));
    }
  }

  /**
   * Record that a worker left running by a planned restart was adopted by this node (its shim took this JVM as its
   * owner): its entry is no longer detached, and stays open as this node's worker.
   */
  public record RecordAdopted(String nonce) implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Adopted(nonce, now));
    }
  }

  /** Record that a worker's whole tree ended (the shim reported its exit): the entry is closed as exited. */
  public record RecordExit(String nonce, String status) implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Exited(nonce, status), new Settled(nonce, Settlement.EXITED, status, now));
    }
  }

  /** Close entries after a settlement. */
  public record Settle(List<Closing> closings) implements Write {
    @Override
    public List<Event> events(long now) {
      List<Event> events = new ArrayList<>();
      for (Closing c : closings) {
        events.add(new Settled(c.nonce(), c.how(), c.detail(), now));
      }
      return events;
    }
  }

  /** One entry to close, and how. */
  public record Closing(String nonce, Settlement how, String detail) implements RegistrySerializable {}

  /** A write that changes nothing: whether the journal takes writes again after a failure. */
  public record Probe() implements Write {
    @Override
    public List<Event> events(long now) {
      return List.of(new Probed("probe", now));
    }
  }

  /** The open entries. */
  public record GetOpen(ActorRef<List<RegistryEntry>> replyTo) implements Command {}

  /** How many incarnations of the node the journal has recorded. */
  public record GetIncarnations(ActorRef<Long> replyTo) implements Command {}

  /** Record that a new incarnation of the node took over the journal; the reply is the new count. */
  public record BeginIncarnation(String incarnation, ActorRef<Long> replyTo) implements Command {}

  /**
   * Replies once no retention work (the deletion of events and snapshots older than the latest snapshot, which Akka
   * runs after each snapshot without waiting) is in flight: the journal must not close under it.
   */
  public record AwaitHousekeeping(ActorRef<Done> replyTo) implements Command {}

  /** What the journal holds. */
  public sealed interface Event extends RegistrySerializable {
    String nonce();
  }

  /** A worker about to be spawned; {@code cgroups} is null in events written before cgroups were journaled. */
  public record Reserved(String nonce, String workerId, String incarnation, String bootId, long at,
      List<String> cgroups) implements Event {}

  /** A worker is up with this identity. */
  public record Spawned(String nonce, SpawnedWorker spawned) implements Event {}

  /** A worker's whole tree ended with {@code status}. */
  public record Exited(String nonce, String status) implements Event {}

  /** A worker was left running for a next node; its shim waits at {@code controlSocket} until {@code until}. */
  public record Detached(String nonce, String controlSocket, long until) implements Event {}

  /** A detached worker was adopted by the node that journaled this (its shim's new owner). */
  public record Adopted(String nonce, long at) implements Event {}

  /** An entry closed, and how. */
  public record Settled(String nonce, Settlement how, String detail, long at) implements Event {}

  /** A write that changes nothing, made while the journal was failing (the nonce is "probe"). */
  public record Probed(String nonce, long at) implements Event {}

  /** The {@code number}th incarnation of the node took over the journal (the nonce is the incarnation's id). */
  public record Incarnated(String nonce, long number, long at) implements Event {}

  /**
   * The open entries by nonce, and how many incarnations took over the journal (0 in snapshots written before they
   * were counted). Immutable: snapshots may be serialized after the next event is applied.
   */
  public record State(Map<String, RegistryEntry> open, long incarnations) implements RegistrySerializable {
    State with(RegistryEntry entry) {
      Map<String, RegistryEntry> next = new HashMap<>(open);
      next.put(entry.nonce(), entry);
      return new State(Map.copyOf(next), incarnations);
    }

    State without(String nonce) {
      Map<String, RegistryEntry> next = new HashMap<>(open);
      next.remove(nonce);
      return new State(Map.copyOf(next), incarnations);
    }
  }

  /** The journal and snapshot plugins, configured in reference.conf under snakepit.registry. */
  public static final String JOURNAL_PLUGIN = "snakepit.registry.journal-plugin";
  public static final String SNAPSHOT_PLUGIN = "snakepit.registry.snapshot-plugin";

  private final int snapshotEvery;
  private final int keepSnapshots;
  /** Snapshots whose deletions of older events and snapshots have not ended yet. */
  private int housekeeping;
  private final List<ActorRef<Done>> awaitingHousekeeping = new ArrayList<>();

  /**
   * The registry of {@code instance} on {@code host}. A failed write or recovery restarts it after {@code backoff}
   * (doubling up to {@code maxBackoff}): storage that is full or unreachable for a while does not end it.
   */
  public static Behavior<Command> create(String host, String instance, int snapshotEvery, int keepSnapshots,
      Duration backoff, Duration maxBackoff) {
    return Behaviors.setup(ctx -> new WorkerRegistry(persistenceId(host, instance), snapshotEvery, keepSnapshots,
        SupervisorStrategy.restartWithBackoff(backoff, maxBackoff, 0.2)));
  }

  /** The persistence id of one (host, instance). */
  public static PersistenceId persistenceId(String host, String instance) {
    return PersistenceId.ofUniqueId("snakepit-registry|" + host + "|" + instance);
  }

  private WorkerRegistry(PersistenceId id, int snapshotEvery, int keepSnapshots, BackoffSupervisorStrategy restart) {
    super(id, restart);
    this.snapshotEvery = snapshotEvery;
    this.keepSnapshots = keepSnapshots;
  }

  @Override
  public State emptyState() {
    return new State(Map.of(), 0);
  }

  @Override
  public String journalPluginId() {
    return JOURNAL_PLUGIN;
  }

  @Override
  public String snapshotPluginId() {
    return SNAPSHOT_PLUGIN;
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(snapshotEvery, keepSnapshots).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(WriteAll.class, (state, c) -> Effect()
            .persist(events(c.writes()))
            .thenReply(c.replyTo(), s -> Done.getInstance()))
        .onCommand(GetOpen.class, (state, c) -> Effect()
            .reply(c.replyTo(), List.copyOf(state.open().values())))
        .onCommand(AwaitHousekeeping.class, (state, c) -> {
          if (housekeeping == 0) {
            return Effect().reply(c.replyTo(), Done.getInstance());
          }
          awaitingHousekeeping.add(c.replyTo());
          return Effect().noReply();
        })
        .onCommand(GetIncarnations.class, (state, c) -> Effect().reply(c.replyTo(), state.incarnations()))
        .onCommand(BeginIncarnation.class, (state, c) -> Effect()
            .persist(new Incarnated(c.incarnation(), state.incarnations() + 1, System.currentTimeMillis()))
            .thenReply(c.replyTo(), State::incarnations))
        .build();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    // After a snapshot Akka deletes the events it covers, then the snapshots past keep-snapshots: a chain ends with
    // the snapshots' deletion, or with the failure of either step.
    return newSignalHandlerBuilder()
        .onSignal(SnapshotCompleted.class, (state, signal) -> housekeeping++)
        .onSignal(DeleteEventsFailed.class, (state, signal) -> housekeepingEnded())
        .onSignal(DeleteSnapshotsCompleted.class, (state, signal) -> housekeepingEnded())
        .onSignal(DeleteSnapshotsFailed.class, (state, signal) -> housekeepingEnded())
        .build();
  }

  private void housekeepingEnded() {
    housekeeping = Math.max(0, housekeeping - 1);
    if (housekeeping == 0) {
      awaitingHousekeeping.forEach(waiting -> waiting.tell(Done.getInstance()));
      awaitingHousekeeping.clear();
    }
  }

  private static List<Event> events(List<Write> writes) {
    long now = System.currentTimeMillis();
    List<Event> events = new ArrayList<>();
    for (Write write : writes) {
      events.addAll(write.events(now));
    }
    return events;
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Reserved.class, (state, e) -> state.with(
            new RegistryEntry(e.nonce(), e.workerId(), e.incarnation(), e.at(), e.bootId(),
                e.cgroups() == null ? List.of() : e.cgroups(), null, null)))
        .onEvent(Spawned.class, (state, e) -> update(state, e.nonce(), entry -> entry.withSpawned(e.spawned())))
        .onEvent(Exited.class, (state, e) -> update(state, e.nonce(), entry -> entry.withExit(e.status())))
        .onEvent(Detached.class, (state, e) -> update(state, e.nonce(),
            entry -> entry.withDetached(new RegistryEntry.Detachment(e.controlSocket(), e.until()))))
        .onEvent(Adopted.class, (state, e) -> update(state, e.nonce(), entry -> entry.withDetached(null)))
        .onEvent(Settled.class, (state, e) -> state.without(e.nonce()))
        .onEvent(Probed.class, (state, e) -> state)
        .onEvent(Incarnated.class, (state, e) -> new State(state.open(), e.number()))
        .build();
  }

  private static State update(State state, String nonce, UnaryOperator<RegistryEntry> change) {
    RegistryEntry entry = state.open().get(nonce);
    return entry == null ? state : state.with(change.apply(entry));
  }
}
