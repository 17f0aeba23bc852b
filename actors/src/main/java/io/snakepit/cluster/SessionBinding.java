package io.snakepit.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.MemberStatus;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityContext;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.cluster.typed.Cluster;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * One session of a cluster pool, as a Cluster Sharding entity (one {@link EntityTypeKey} per pool, the session id as
 * the entity id): it holds the node the session is bound to, so that the session's calls reach that node through any
 * node's gateway. The node keeps the binding to a worker itself, with its own pool's sessions, as on a single node.
 * It forgets the binding (passivates) when the session goes unused for its TTL, and binds the session anew when its
 * node is no longer a member of the cluster or the caller found that node's pool gone.
 *
 * <p>The entity keeps its binding in memory only, so an entity started anew (the session is new, or the node that
 * hosted the entity was lost while the session's worker lives on another) first asks every node's pool whether one
 * of its workers holds the session ({@link PoolEndpoint.SessionHeld}), for at most
 * {@code snakepit.cluster.session-recovery-timeout}, and binds the session to the node that used it last. The nodes
 * are the truth of where a session's worker is; the entity only remembers it, and can always learn it again.
 */
public final class SessionBinding extends AbstractBehavior<SessionBinding.Command> {

  /** What the entity takes. */
  public interface Command {}

  /**
   * Where is the session? Binds it to {@code proposed} if it is not bound, or if its node is {@code gone} or no
   * longer a member.
   *
   * @param proposed the node the caller would send a new session to, {@code SYSTEM@HOST:PORT}
   * @param gone the node the caller found without the pool (it was lost), or null
   * @param ttlMillis the session's TTL: unused this long, the binding is forgotten
   * @param replyTo where the answer goes
   */
  public record Bind(String proposed, String gone, long ttlMillis, ActorRef<Bound> replyTo)
      implements Command, ClusterMessage {}

  /** The node the session is bound to. */
  public record Bound(String node) implements ClusterMessage {}

  /**
   * A node's answer to {@link PoolEndpoint.SessionHeld}: its pool holds the session, last used {@code idleMillis}
   * ago, or -1 if it does not.
   */
  public record Held(String node, long idleMillis) implements Command, ClusterMessage {}

  private enum Idle implements Command { INSTANCE }

  private enum RecoveryOver implements Command { INSTANCE }

  private record Listed(Receptionist.Listing listing) implements Command {}

  /** Its entity type in pool {@code pool}. */
  public static EntityTypeKey<Command> key(String pool) {
    return EntityTypeKey.create(Command.class, KEY_PREFIX + pool);
  }

  private static final String KEY_PREFIX = "snakepit-session:";
  /** Calls of one session that may wait while its binding is recovered; past it they wait for their own timeout. */
  private static final int WAITING = 10_000;

  private final EntityContext<Command> entity;
  private final StashBuffer<Command> waiting;
  private final Duration recovery;
  private final Map<String, Long> held = new HashMap<>();
  private int asked;
  private String bound;

  private SessionBinding(ActorContext<Command> context, EntityContext<Command> entity, StashBuffer<Command> waiting) {
    super(context);
    this.entity = entity;
    this.waiting = waiting;
    this.recovery = context.getSystem().settings().config()
        .getDuration("snakepit.cluster.session-recovery-timeout");
  }

  static Behavior<Command> create(EntityContext<Command> entity) {
    return Behaviors.setup(ctx -> Behaviors.withStash(WAITING, stash -> new SessionBinding(ctx, entity, stash)
        .recovering()));
  }

  /**
   * The node a session is bound to after a {@link Bind}: its node as it was ({@code bound}), unless there was none,
   * the caller found it {@code gone} or it is not a {@code member} any more; then {@code proposed}.
   */
  static String decide(String bound, String proposed, String gone, Predicate<String> member) {
    if (bound == null || bound.equals(gone) || !member.test(bound)) {
      return proposed;
    }
    return bound;
  }

  /**
   * The node whose pool holds the session and used it last, from the nodes' answers (idle milliseconds, -1 for
   * none), among the {@code member}s; null if none holds it.
   */
  static String recovered(Map<String, Long> held, Predicate<String> member) {
    String best = null;
    long bestIdle = Long.MAX_VALUE;
    for (Map.Entry<String, Long> e : new TreeMap<>(held).entrySet()) {
      if (e.getValue() >= 0 && e.getValue() < bestIdle && member.test(e.getKey())) {
        best = e.getKey();
        bestIdle = e.getValue();
      }
    }
    return best;
  }

  /** Started: the first call asks the nodes for the session, and every call waits for their answers. */
  private Behavior<Command> recovering() {
    return Behaviors.receive(Command.class)
        .onMessage(Bind.class, bind -> {
          boolean first = waiting.isEmpty();
          stash(bind);
          if (first) {
            getContext().getSystem().receptionist().tell(Receptionist.find(ClusterPools.key(poolOf(entity)),
                getContext().messageAdapter(Receptionist.Listing.class, Listed::new)));
            getContext().scheduleOnce(recovery, getContext().getSelf(), RecoveryOver.INSTANCE);
          }
          return Behaviors.same();
        })
        .onMessage(Listed.class, this::onListed)
        .onMessage(Held.class, this::onHeld)
        .onMessageEquals(RecoveryOver.INSTANCE, this::recoveryOver)
        .onMessageEquals(Idle.INSTANCE, Behaviors::same)
        .build();
  }

  private void stash(Bind bind) {
    if (waiting.isFull()) {
      getContext().getLog().warn("session '{}': {} calls already wait for its binding to be recovered; this one"
          + " waits for its own snakepit.cluster.session-lookup-timeout", entity.getEntityId(), WAITING);
    } else {
      waiting.stash(bind);
    }
  }

  private Behavior<Command> onListed(Listed listed) {
    Set<ActorRef<PoolEndpoint.Command>> endpoints = listed.listing().getServiceInstances(
        ClusterPools.key(poolOf(entity)));
    asked = endpoints.size();
    endpoints.forEach(e -> e.tell(new PoolEndpoint.SessionHeld(entity.getEntityId(), getContext().getSelf())));
    return asked == 0 ? recoveryOver() : Behaviors.same();
  }

  private Behavior<Command> onHeld(Held answer) {
    held.put(answer.node(), answer.idleMillis());
    return held.size() >= asked ? recoveryOver() : Behaviors.same();
  }

  /** Every node answered, or the time is up: the session's node is the one that used it last, if one holds it. */
  private Behavior<Command> recoveryOver() {
    bound = recovered(held, this::member);
    if (bound != null) {
      getContext().getLog().info("session '{}' of pool '{}': bound again to node {}, whose worker still holds it"
          + " (used {} ms ago); this node hosts its binding now", entity.getEntityId(), poolOf(entity), bound,
          held.get(bound));
    }
    held.clear();
    return waiting.unstashAll(this);
  }

  /** The pool name of the entity's type. */
  private static String poolOf(EntityContext<Command> entity) {
    return entity.getEntityTypeKey().name().substring(KEY_PREFIX.length());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Bind.class, this::onBind)
        .onMessageEquals(Idle.INSTANCE, this::onIdle)
        .onMessage(Held.class, answer -> this) // a late answer: the binding is settled
        .onMessageEquals(RecoveryOver.INSTANCE, () -> this)
        .onMessage(Listed.class, listed -> this)
        .build();
  }

  private Behavior<Command> onBind(Bind bind) {
    bound = decide(bound, bind.proposed(), bind.gone(), this::member);
    if (bind.ttlMillis() > 0) {
      getContext().setReceiveTimeout(Duration.ofMillis(bind.ttlMillis()), Idle.INSTANCE);
    }
    bind.replyTo().tell(new Bound(bound));
    return this;
  }

  /** Unused for its TTL: the shard stops it, and the binding with it. */
  private Behavior<Command> onIdle() {
    entity.getShard().tell(new ClusterSharding.Passivate<>(getContext().getSelf()));
    return this;
  }

  /** Whether {@code node} is a member that has not left, been downed or removed (an unreachable one still is). */
  private boolean member(String node) {
    for (akka.cluster.Member m : Cluster.get(getContext().getSystem()).state().getMembers()) {
      if (ClusterPools.nodeName(m.address()).equals(node)) {
        MemberStatus s = m.status();
        return s == MemberStatus.up() || s == MemberStatus.weaklyUp() || s == MemberStatus.joining()
            || s == MemberStatus.leaving();
      }
    }
    return false;
  }
}
