package io.snakepit.persistence;

import akka.Done;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.Behaviors;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.javadsl.CommandHandlerWithReply;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import akka.persistence.typed.javadsl.ReplyEffect;
import akka.persistence.typed.javadsl.RetentionCriteria;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The adapters' states of one pool of one (host, instance), by slot: what each slot's last worker gave from its
 * {@code snapshot()}, so that the slot's next worker restores it, in this JVM or the next one. It is journaled in the
 * registry's database, beside the registry, under its own persistence id; snapshots with retention keep it to the
 * latest states. Every command is answered.
 */
public final class SlotStates
    extends EventSourcedBehaviorWithEnforcedReplies<SlotStates.Command, SlotStates.Event, SlotStates.State> {

  /** What it accepts. */
  public interface Command {}

  /** Keep {@code state} (UTF-8 JSON) for slot {@code slot}; null forgets the slot's state. Replied once durable. */
  public record Keep(int slot, byte[] state, ActorRef<Done> replyTo) implements Command {}

  /** The states kept, by slot. */
  public record Load(ActorRef<Map<Integer, byte[]>> replyTo) implements Command {}

  /** What is journaled. */
  public sealed interface Event extends RegistrySerializable {}

  /** Slot {@code slot}'s state is {@code state}. */
  public record Kept(int slot, byte[] state) implements Event {}

  /** Slot {@code slot} has no state any more. */
  public record Forgotten(int slot) implements Event {}

  /** The states by slot. */
  public record State(Map<Integer, byte[]> slots) implements RegistrySerializable {}

  /** States change often (every snapshot.interval): a snapshot every few events keeps the journal small. */
  private static final int SNAPSHOT_EVERY = 10;

  /** The states of pool {@code pool} of {@code instance} on {@code host}; a failure restarts it after a backoff. */
  public static Behavior<Command> create(String host, String instance, String pool) {
    return Behaviors.setup(ctx -> new SlotStates(persistenceId(host, instance, pool)));
  }

  /** The persistence id of one pool's states. */
  public static PersistenceId persistenceId(String host, String instance, String pool) {
    return PersistenceId.ofUniqueId("snakepit-states|" + host + "|" + instance + "|" + pool);
  }

  private SlotStates(PersistenceId id) {
    super(id, SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
  }

  @Override
  public State emptyState() {
    return new State(Map.of());
  }

  @Override
  public String journalPluginId() {
    return WorkerRegistry.JOURNAL_PLUGIN;
  }

  @Override
  public String snapshotPluginId() {
    return WorkerRegistry.SNAPSHOT_PLUGIN;
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(SNAPSHOT_EVERY, 1).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Keep.class, this::keep)
        .onCommand(Load.class, (state, c) -> Effect().reply(c.replyTo(), Map.copyOf(state.slots())))
        .build();
  }

  private ReplyEffect<Event, State> keep(State state, Keep c) {
    Event event = c.state() == null ? new Forgotten(c.slot()) : new Kept(c.slot(), c.state());
    if (c.state() == null && !state.slots().containsKey(c.slot())) {
      return Effect().reply(c.replyTo(), Done.getInstance()); // nothing to forget
    }
    return Effect().persist(event).thenReply(c.replyTo(), s -> Done.getInstance());
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Kept.class, (state, e) -> {
          Map<Integer, byte[]> slots = new HashMap<>(state.slots());
          slots.put(e.slot(), e.state());
          return new State(Map.copyOf(slots));
        })
        .onEvent(Forgotten.class, (state, e) -> {
          Map<Integer, byte[]> slots = new HashMap<>(state.slots());
          slots.remove(e.slot());
          return new State(Map.copyOf(slots));
        })
        .build();
  }
}
