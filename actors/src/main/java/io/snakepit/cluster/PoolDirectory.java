package io.snakepit.cluster;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * This node's side of the cluster pools: it registers an endpoint of each of the node's pools with the
 * Receptionist, tells the other nodes' directories its pools' load every {@code snakepit.cluster.load-interval} (and
 * at once when one appears), watches the Receptionist's listing of every pool name it hears of, and takes the
 * answers to the calls this node sent elsewhere. The state it keeps is {@link ClusterPools}'s, which callers read
 * without a message.
 */
public final class PoolDirectory extends AbstractBehavior<PoolDirectory.Command> {

  /** What the directory takes. */
  public interface Command {}

  /**
   * Another node's pools and their load.
   *
   * @param node its address, {@code SYSTEM@HOST:PORT}
   * @param pools its pools' loads, by name
   */
  public record Loads(String node, Map<String, PoolLoad> pools) implements Command, ClusterMessage {}

  /**
   * The answer to a call this node sent to another node's {@link PoolEndpoint}.
   *
   * @param callId this node's id of the call
   * @param value the result's bytes (JSON text as UTF-8, or the raw bytes), null on an error
   * @param bytes whether the result is raw bytes
   * @param error the typed error, or null
   * @param pool the pool that served it
   * @param node the node that served it
   * @param load that node's pool's load as it answered
   */
  public record Reply(String callId, byte[] value, boolean bytes, RemoteError error, String pool, String node,
      PoolLoad load)
      implements Command, ClusterMessage {}

  /**
   * One part of an answer whose result does not fit one frame: {@code reply} with the part's bytes as its value.
   *
   * @param reply the answer, its value being part {@code index} of the result's bytes
   * @param index the part's place, from 0
   * @param count how many parts the result is in
   */
  public record ReplyPart(Reply reply, int index, int count) implements Command, ClusterMessage {}

  private record Directories(Receptionist.Listing listing) implements Command {}

  private record Endpoints(String pool, Receptionist.Listing listing) implements Command {}

  private enum Tick implements Command { INSTANCE }

  private final ClusterPools pools;
  private final Set<ActorRef<Command>> peers = new HashSet<>();
  /** The pool names whose listing this directory has subscribed to. */
  private final Set<String> watched;

  private PoolDirectory(ActorContext<Command> context, ClusterPools pools, Set<String> watched) {
    super(context);
    this.pools = pools;
    this.watched = watched;
  }

  static Behavior<Command> create(ClusterPools pools, Duration interval) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      ActorRef<Receptionist.Command> receptionist = ctx.getSystem().receptionist();
      Set<String> watched = new HashSet<>();
      for (ClusterPools.Local local : pools.locals()) {
        ActorRef<PoolEndpoint.Command> endpoint = ctx.spawn(PoolEndpoint.create(local, pools.self(),
            pools.frameLimit()), "pool-" + java.net.URLEncoder.encode(local.name(),
            java.nio.charset.StandardCharsets.UTF_8));
        receptionist.tell(Receptionist.register(ClusterPools.key(local.name()), endpoint));
        // This node's own pools are watched too, so that its handle knows the other nodes of the same name.
        watch(ctx, local.name());
        watched.add(local.name());
      }
      receptionist.tell(Receptionist.register(ClusterPools.DIRECTORY, ctx.getSelf()));
      receptionist.tell(Receptionist.subscribe(ClusterPools.DIRECTORY, listings(ctx)));
      timers.startTimerWithFixedDelay(Tick.INSTANCE, interval);
      return new PoolDirectory(ctx, pools, watched);
    }));
  }

  private static void watch(ActorContext<Command> ctx, String pool) {
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(ClusterPools.key(pool), listings(ctx)));
  }

  /**
   * The one adapter of every listing: an actor has one message adapter per message class, so listings of all keys
   * come through it and are told apart by their key.
   */
  private static ActorRef<Receptionist.Listing> listings(ActorContext<Command> ctx) {
    return ctx.messageAdapter(Receptionist.Listing.class, l -> l.isForKey(ClusterPools.DIRECTORY)
        ? new Directories(l) : new Endpoints(ClusterPools.poolOf(l.getKey().id()), l));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Directories.class, this::onDirectories)
        .onMessage(Endpoints.class, this::onEndpoints)
        .onMessage(Loads.class, this::onLoads)
        .onMessage(Reply.class, this::onReply)
        .onMessage(ReplyPart.class, this::onReplyPart)
        .onMessage(StreamProtocol.ToCaller.class, this::onStreamed)
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .build();
  }

  private Behavior<Command> onDirectories(Directories d) {
    Set<ActorRef<Command>> now = new HashSet<>();
    for (ActorRef<Command> ref : d.listing().getAllServiceInstances(ClusterPools.DIRECTORY)) {
      if (!ref.equals(getContext().getSelf())) {
        now.add(ref);
      }
    }
    Loads mine = new Loads(pools.self(), pools.loads());
    for (ActorRef<Command> ref : now) {
      if (!peers.contains(ref)) {
        ref.tell(mine); // a new node learns this one's pools at once, not an interval later
      }
    }
    peers.clear();
    peers.addAll(now);
    return this;
  }

  private Behavior<Command> onEndpoints(Endpoints e) {
    ServiceKeyListing listing = new ServiceKeyListing(e.pool(), e.listing());
    pools.listed(e.pool(), listing.remote(false), listing.remote(true));
    return this;
  }

  private Behavior<Command> onLoads(Loads loads) {
    for (String pool : loads.pools().keySet()) {
      if (watched.add(pool)) {
        watch(getContext(), pool);
      }
    }
    pools.reported(loads.node(), loads.pools());
    return this;
  }

  private Behavior<Command> onReply(Reply reply) {
    pools.replied(reply);
    return this;
  }

  private Behavior<Command> onReplyPart(ReplyPart part) {
    pools.repliedPart(part);
    return this;
  }

  /** A stream's start, item or end, from the node that serves it. */
  private Behavior<Command> onStreamed(StreamProtocol.ToCaller event) {
    pools.streamed(event);
    return this;
  }

  private Behavior<Command> onTick() {
    if (!peers.isEmpty()) {
      Loads mine = new Loads(pools.self(), pools.loads());
      peers.forEach(p -> p.tell(mine));
    }
    return this;
  }

  /** One pool's listing, as endpoints of other nodes by node address. */
  private record ServiceKeyListing(String pool, Receptionist.Listing listing) {
    Map<String, ActorRef<PoolEndpoint.Command>> remote(boolean all) {
      Map<String, ActorRef<PoolEndpoint.Command>> out = new HashMap<>();
      var key = ClusterPools.key(pool);
      for (ActorRef<PoolEndpoint.Command> ref : all ? listing.getAllServiceInstances(key)
          : listing.getServiceInstances(key)) {
        Address a = ref.path().address();
        if (a.hasGlobalScope()) {
          out.put(a.system() + "@" + a.host().get() + ":" + a.port().get(), ref);
        }
      }
      return out;
    }
  }
}
