package io.snakepit.cluster;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.cluster.MemberStatus;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityContext;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.cluster.typed.Cluster;
import java.time.Duration;
import java.util.function.Predicate;

/**
 * One session of a cluster pool, as a Cluster Sharding entity (one {@link EntityTypeKey} per pool, the session id as
 * the entity id): it holds the node the session is bound to, so that the session's calls reach that node through any
 * node's gateway. The node keeps the binding to a worker itself, with its own pool's sessions, as on a single node.
 * It forgets the binding (passivates) when the session goes unused for its TTL, and binds the session anew when its
 * node is no longer a member of the cluster or the caller found that node's pool gone.
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

  private enum Idle implements Command { INSTANCE }

  /** Its entity type in pool {@code pool}. */
  public static EntityTypeKey<Command> key(String pool) {
    return EntityTypeKey.create(Command.class, "snakepit-session:" + pool);
  }

  private final EntityContext<Command> entity;
  private String bound;

  private SessionBinding(ActorContext<Command> context, EntityContext<Command> entity) {
    super(context);
    this.entity = entity;
  }

  static Behavior<Command> create(EntityContext<Command> entity) {
    return Behaviors.setup(ctx -> new SessionBinding(ctx, entity));
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

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Bind.class, this::onBind)
        .onMessageEquals(Idle.INSTANCE, this::onIdle)
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
