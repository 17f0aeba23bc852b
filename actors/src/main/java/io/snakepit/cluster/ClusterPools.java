package io.snakepit.cluster;

import akka.actor.Address;
import akka.actor.Cancellable;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.receptionist.ServiceKey;
import akka.cluster.Cluster;
import akka.cluster.sharding.typed.ClusterShardingSettings;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import io.snakepit.CallOptions;
import io.snakepit.CallTimeoutException;
import io.snakepit.MessageTooLargeException;
import io.snakepit.NodeLostException;
import io.snakepit.PoolUnavailableException;
import io.snakepit.Result;
import io.snakepit.SnakepitException;
import io.snakepit.actors.worker.StreamItems;
import io.snakepit.proto.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntSupplier;

/**
 * Cluster pools: the pools of the same name on every node of the cluster, served as one. This node's pools are
 * registered with the Receptionist (one {@link ServiceKey} per pool name, {@link PoolEndpoint}s), the nodes gossip
 * their pools' load ({@link PoolDirectory}), and a call goes to this node's own workers while one is idle, else to
 * the least loaded node ({@link Placement}). A session's calls go to the node its sharded {@link SessionBinding}
 * holds, whichever node they come through. A node supervises, journals and settles only its own processes: a call
 * from another node is just one more call to its pool, with its queue bound and saturation as for any.
 *
 * <p>Made only for an actor system with the cluster provider: a node that runs alone never loads this class, and its
 * calls go straight to its pools.
 */
public final class ClusterPools {
  /**
   * The setting that bounds a message between nodes: a remote call's request or result larger than it (less
   * {@link #ENVELOPE}) crosses in {@link Parts}.
   */
  public static final String FRAME_SETTING = "akka.remote.artery.advanced.maximum-frame-size";
  /**
   * How long a request or result in parts may take from its first part to its last when its call has no deadline:
   * artery drops messages past its send queue, and the parts already in must not wait for a lost one forever.
   */
  static final String PARTS_TIMEOUT = "snakepit.cluster.parts-timeout";
  /** Room in a frame for a call's or answer's own fields beside its request or result (or a part of it). */
  static final int ENVELOPE = 4096;

  /** The Receptionist key of every node's directory of pools. */
  static final ServiceKey<PoolDirectory.Command> DIRECTORY =
      ServiceKey.create(PoolDirectory.Command.class, "snakepit-pool-directory");

  /** The Receptionist key of pool {@code name}'s endpoints. */
  public static ServiceKey<PoolEndpoint.Command> key(String name) {
    return ServiceKey.create(PoolEndpoint.Command.class, KEY_PREFIX + name);
  }

  private static final String KEY_PREFIX = "snakepit-pool:";

  /** The setting of a clustered node's stream window: items asked for ahead of what the consumer has taken. */
  public static final String STREAM_WINDOW = "snakepit.cluster.stream-window";

  /** The pool name of a {@link #key} id. */
  static String poolOf(String keyId) {
    return keyId.substring(KEY_PREFIX.length());
  }

  /**
   * One pool of this node, as the cluster sees it: what it holds and can run, and its calls that no routing may
   * send on again. Its count covers the calls routed to it and the calls from other nodes.
   */
  public static final class Local {
    private final String name;
    private final IntSupplier capacity;
    private final int maxMessageSize;
    private final Duration sessionTtl;
    private final BiFunction<ExecuteRequest, CallOptions, CompletableFuture<Result>> direct;
    private final DirectStream directStream;
    private final Function<String, CompletableFuture<Long>> sessionIdle;
    private final AtomicInteger inFlight = new AtomicInteger();

    /**
     * @param name the pool's name
     * @param capacity how many calls it runs at once now (workers times concurrency)
     * @param maxMessageSize its {@code max-message-size}
     * @param sessionTtl its {@code session-ttl}
     * @param direct submits a call to the pool itself
     * @param directStream submits a streaming call to the pool itself
     * @param sessionIdle how long ago a session was last used in the pool, in milliseconds, or -1 if no worker of
     *     it holds the session
     */
    public Local(String name, IntSupplier capacity, int maxMessageSize, Duration sessionTtl,
        BiFunction<ExecuteRequest, CallOptions, CompletableFuture<Result>> direct, DirectStream directStream,
        Function<String, CompletableFuture<Long>> sessionIdle) {
      this.name = name;
      this.capacity = capacity;
      this.maxMessageSize = maxMessageSize;
      this.sessionTtl = sessionTtl;
      this.direct = direct;
      this.directStream = directStream;
      this.sessionIdle = sessionIdle;
    }

    /** How long ago {@code session} was last used in this node's pool, in milliseconds, or -1 if it holds none. */
    CompletableFuture<Long> sessionIdleMillis(String session) {
      return sessionIdle.apply(session);
    }

    String name() {
      return name;
    }

    int maxMessageSize() {
      return maxMessageSize;
    }

    PoolLoad load() {
      return new PoolLoad(inFlight.get(), capacity.getAsInt(), maxMessageSize);
    }

    /** A call from another node. */
    CompletableFuture<Result> call(ExecuteRequest request, CallOptions options) {
      inFlight.incrementAndGet();
      CompletableFuture<Result> result = direct.apply(request, options);
      result.whenComplete((r, e) -> inFlight.decrementAndGet());
      return result;
    }

    /** A streaming call from another node. */
    void stream(ExecuteRequest request, CallOptions options, StreamItems items, CompletableFuture<Void> promise) {
      inFlight.incrementAndGet();
      promise.whenComplete((r, e) -> inFlight.decrementAndGet());
      directStream.start(request, options, items, promise);
    }

    /** A call (or streaming call) of this node's, into {@code promise}. */
    <T> void run(CompletableFuture<T> promise, Consumer<CompletableFuture<T>> submit) {
      inFlight.incrementAndGet();
      promise.whenComplete((r, e) -> inFlight.decrementAndGet());
      submit.accept(promise);
    }
  }

  /** Submits a streaming call to a pool of this node itself, never routed on. */
  @FunctionalInterface
  public interface DirectStream {
    /** Starts {@code request}'s stream: its items go to {@code items}, its end completes {@code promise}. */
    void start(ExecuteRequest request, CallOptions options, StreamItems items, CompletableFuture<Void> promise);
  }

  /** One node's endpoint of a pool, and what this node knows of its load. */
  static final class Remote {
    final String node;
    final ActorRef<PoolEndpoint.Command> ref;
    /** Calls this node has sent it and not had answered. */
    final AtomicInteger sent = new AtomicInteger();
    volatile PoolLoad reported;

    Remote(String node, ActorRef<PoolEndpoint.Command> ref) {
      this.node = node;
      this.ref = ref;
    }

    /**
     * Its load as best known: what it last reported, or what this node has sent it if that is more (a report is up
     * to an interval old).
     */
    PoolLoad estimate() {
      PoolLoad r = reported;
      int mine = sent.get();
      return r == null ? new PoolLoad(mine, 1, Integer.MAX_VALUE)
          : new PoolLoad(Math.max(r.inFlight(), mine), r.capacity(), r.maxMessageSize());
    }
  }

  /** A pool name's endpoints on other nodes. */
  static final class Table {
    /** The reachable endpoints, which calls may go to. */
    volatile List<Remote> reachable = List.of();
    /** Every endpoint still registered, reachable or not, by its node. */
    final Map<String, Remote> registered = new ConcurrentHashMap<>();
    /** Loads reported by node, kept for endpoints not listed yet. */
    final Map<String, PoolLoad> reports = new ConcurrentHashMap<>();
  }

  /** A result on its way back in parts, and the timer of its call's deadline, or of parts-timeout without one. */
  private record Incoming(Parts.Joining joining, Cancellable expiry) {}

  /** A call sent to another node, waiting for its answer. */
  private record Pending(String pool, ExecuteRequest request, CallOptions options, CompletableFuture<Result> promise,
      Consumer<CompletableFuture<Result>> local, Remote target) {}

  private final String self;
  private final int frameLimit;
  private final Map<String, Local> locals;
  private final Map<String, Table> tables = new ConcurrentHashMap<>();
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  /**
   * Results on their way back in parts, by call id. Bounded: one per call still pending here, each at most the serving
   * pool's max-message-size (parts past it are refused); dropped when its call ends (answered, cancelled, its node lost)
   * or its deadline passes, so parts cannot gather here for calls nobody waits for.
   */
  private final Map<String, Incoming> results = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicLong turns = new AtomicLong();
  private final ActorRef<PoolDirectory.Command> directory;
  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  /** The pool names whose session entities this node has started (it may then host some of them). */
  private final Set<String> sessionTypes = ConcurrentHashMap.newKeySet();
  private final Duration sessionLookup;
  private final Duration partsTimeout;
  private final Duration defaultSessionTtl;
  /** The max-message-size assumed of another node's pool until it reports its own. */
  private final int defaultMaxMessageSize;
  /** The streaming calls this node sent to other nodes. */
  private final RemoteStreams streams;
  private final int streamWindow;

  private ClusterPools(ActorSystem<?> system, List<Local> locals) {
    Address address = Cluster.get(Adapter.toClassic(system)).selfAddress();
    this.self = nodeName(address);
    this.system = system;
    this.frameLimit = (int) Math.min(Integer.MAX_VALUE,
        system.settings().config().getBytes(FRAME_SETTING));
    Map<String, Local> byName = new ConcurrentHashMap<>();
    locals.forEach(l -> byName.put(l.name(), l));
    this.locals = Map.copyOf(byName);
    Duration interval = system.settings().config().getDuration("snakepit.cluster.load-interval");
    // Restarted on a failure: it registers the endpoints again; the calls in flight are kept here, not in it.
    this.directory = system.systemActorOf(Behaviors.supervise(PoolDirectory.create(this, interval))
        .onFailure(SupervisorStrategy.restart()), "snakepit-cluster-pools", Props.empty());
    this.sharding = ClusterSharding.get(system);
    this.sessionLookup = system.settings().config().getDuration("snakepit.cluster.session-lookup-timeout");
    this.partsTimeout = system.settings().config().getDuration(PARTS_TIMEOUT);
    this.defaultSessionTtl = system.settings().config().getDuration("snakepit.pool-defaults.session-ttl");
    this.defaultMaxMessageSize = (int) Math.min(Integer.MAX_VALUE,
        system.settings().config().getBytes("snakepit.pool-defaults.max-message-size"));
    this.streamWindow = streamWindow(system.settings().config().getInt(STREAM_WINDOW));
    this.streams = new RemoteStreams(this, directory, frameLimit, streamWindow);
    // Every node that runs a pool hosts session entities of it: they stay placed when a caller's node is lost.
    this.locals.keySet().forEach(this::sessionType);
    ClusterMeters.of(system).source(this);
  }

  /** A node's address as cluster pools name it, {@code SYSTEM@HOST:PORT}. */
  static String nodeName(Address address) {
    return address.system() + "@" + address.host().get() + ":" + address.port().get();
  }

  /** Starts (once) the session entities of pool {@code name} on this node. */
  private void sessionType(String name) {
    if (sessionTypes.add(name)) {
      sharding.init(Entity.of(SessionBinding.key(name), SessionBinding::create)
          .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy())
          .withAllocationStrategy(new SessionShards()));
    }
  }

  /**
   * Every node's pools with their load as this node knows it, by node then pool: its own now, the others' as they
   * last reported (up to snakepit.cluster.load-interval old). For the metrics.
   */
  Map<String, Map<String, PoolLoad>> loadsByNode() {
    Map<String, Map<String, PoolLoad>> byNode = new TreeMap<>();
    locals.forEach((name, local) -> byNode.computeIfAbsent(self, n -> new TreeMap<>()).put(name, local.load()));
    tables.forEach((pool, table) -> table.reports.forEach((node, load) ->
        byNode.computeIfAbsent(node, n -> new TreeMap<>()).put(pool, load)));
    return byNode;
  }

  /**
   * Starts cluster pools on {@code system} (which must run with the cluster provider), with this node's pools
   * {@code locals}.
   */
  public static ClusterPools start(ActorSystem<?> system, List<Local> locals) {
    return new ClusterPools(system, locals);
  }

  /** This node's address, {@code SYSTEM@HOST:PORT}. */
  public String self() {
    return self;
  }

  /** The pool names other nodes have told this one of, sorted. */
  public Set<String> remoteNames() {
    Set<String> names = new TreeSet<>();
    tables.forEach((name, t) -> {
      if (!t.reachable.isEmpty() || !t.reports.isEmpty()) {
        names.add(name);
      }
    });
    return names;
  }

  /** Whether another node has a pool named {@code name}. */
  public boolean knows(String name) {
    Table t = tables.get(name);
    return t != null && (!t.reachable.isEmpty() || !t.reports.isEmpty());
  }

  /**
   * The smallest {@code max-message-size} of the nodes' pools named {@code name} (as they reported it; until one has,
   * {@code snakepit.pool-defaults.max-message-size}), for a node without such a pool of its own.
   */
  public int maxMessageSize(String name) {
    Table t = tables.get(name);
    int smallest = Integer.MAX_VALUE;
    if (t != null) {
      for (PoolLoad l : t.reports.values()) {
        smallest = Math.min(smallest, l.maxMessageSize());
      }
    }
    return smallest == Integer.MAX_VALUE ? defaultMaxMessageSize : smallest;
  }

  /**
   * Sends a call of pool {@code name} where the routing rule says: to this node's pool through {@code local} (null if
   * this node has no such pool), or to another node's. Completes {@code promise} with the result or the typed error;
   * cancelling {@code promise} cancels the call where it runs.
   */
  public void submit(String name, ExecuteRequest request, CallOptions options, CompletableFuture<Result> promise,
      Consumer<CompletableFuture<Result>> local) {
    Local own = local == null ? null : locals.get(name);
    Table table = tables.get(name);
    List<Remote> remotes = table == null ? List.of() : table.reachable;
    if (options.session() != null) {
      inSession(name, request, options, promise, local, null, own, remotes);
      return;
    }
    if (own != null && remotes.isEmpty()) {
      own.run(promise, local);
      return;
    }
    int chosen = choose(own, remotes);
    if (chosen == Placement.NONE) {
      promise.completeExceptionally(unavailable(name));
      return;
    }
    if (own != null && chosen == 0) {
      own.run(promise, local);
      return;
    }
    send(name, request, options, promise, local, remotes.get(chosen - (own != null ? 1 : 0)));
  }

  /**
   * A call of a session: its node is the one its sharded {@link SessionBinding} holds, bound on the session's first
   * call (or after its node was lost) to the node the routing rule picks; that node binds it to a worker. {@code gone}
   * is the node the last answer named that has no such pool any more.
   */
  private void inSession(String name, ExecuteRequest request, CallOptions options, CompletableFuture<Result> promise,
      Consumer<CompletableFuture<Result>> local, String gone, Local own, List<Remote> remotes) {
    routeSession(name, options, promise, gone, own, remotes, () -> own.run(promise, local),
        target -> send(name, request, options, promise, local, target),
        (lost, now) -> inSession(name, request, options, promise, local, lost, own, now));
  }

  /**
   * Asks the session's {@link SessionBinding} for its node (proposing the one the routing rule picks) and goes on
   * there: {@code here} on this node's own pool, {@code there} to another node's endpoint, or {@code again} with the
   * node found gone and the pool's reachable endpoints now, to bind the session anew (once: a second gone node fails
   * the call). For a session's calls and its streams alike.
   */
  private void routeSession(String name, CallOptions options, CompletableFuture<?> promise, String gone, Local own,
      List<Remote> remotes, Runnable here, Consumer<Remote> there, BiConsumer<String, List<Remote>> again) {
    int chosen = choose(own, remotes);
    if (chosen == Placement.NONE) {
      promise.completeExceptionally(unavailable(name));
      return;
    }
    String proposed = own != null && chosen == 0 ? self : remotes.get(chosen - (own != null ? 1 : 0)).node;
    long ttl = (own != null ? own.sessionTtl : defaultSessionTtl).toMillis();
    sessionType(name);
    sharding.entityRefFor(SessionBinding.key(name), options.session())
        .<SessionBinding.Bound>ask(replyTo -> new SessionBinding.Bind(proposed, gone, ttl, replyTo), sessionLookup)
        .whenComplete((bound, error) -> {
          if (promise.isDone()) {
            return; // cancelled meanwhile
          }
          if (error != null) {
            promise.completeExceptionally(new PoolUnavailableException("the node of session '" + options.session()
                + "' of pool '" + name + "' could not be found within snakepit.cluster.session-lookup-timeout = "
                + sessionLookup.toMillis() + " ms (" + error + "); the cluster may still be moving the sessions of a"
                + " lost node. Call again, or raise snakepit.cluster.session-lookup-timeout", error));
            return;
          }
          String node = bound.node();
          Table t = tables.get(name);
          Remote target = t == null ? null : t.registered.get(node);
          if (node.equals(self) && own != null) {
            here.run();
          } else if (target != null) {
            there.accept(target);
          } else if (gone == null) {
            // Its node has no such pool any more (it was lost): bind the session anew.
            Table now = tables.get(name);
            again.accept(node, now == null ? List.of() : now.reachable);
          } else {
            promise.completeExceptionally(unavailable(name));
          }
        });
  }

  /** The candidate the routing rule picks: 0 for this node's own pool if it has one, else a remote by position. */
  private int choose(Local own, List<Remote> remotes) {
    List<PoolLoad> loads = new ArrayList<>(remotes.size() + 1);
    if (own != null) {
      loads.add(own.load());
    }
    remotes.forEach(r -> loads.add(r.estimate()));
    return Placement.choose(own != null, loads, turns.getAndIncrement());
  }

  private PoolUnavailableException unavailable(String name) {
    return new PoolUnavailableException("no node of the cluster serves pool '" + name
        + "' now (this node is " + self + " and has no such pool; the pools other nodes have: "
        + (remoteNames().isEmpty() ? "none" : String.join(", ", remoteNames())) + "). Start a node with"
        + " snakepit.pools." + name + " configured, or wait for one to join", null);
  }

  private void send(String name, ExecuteRequest request, CallOptions options, CompletableFuture<Result> promise,
      Consumer<CompletableFuture<Result>> local, Remote target) {
    byte[] bytes = request.toByteArray();
    int limit = target.estimate().maxMessageSize();
    if (bytes.length > limit) {
      promise.completeExceptionally(MessageTooLargeException.arguments(name, request.getTool(), bytes.length, limit));
      return;
    }
    String callId = "r" + ids.incrementAndGet();
    target.sent.incrementAndGet();
    pending.put(callId, new Pending(name, request, options, promise, local, target));
    promise.whenComplete((r, e) -> {
      dropResult(callId);
      if (pending.remove(callId) != null) {
        target.sent.decrementAndGet();
        if (promise.isCancelled()) {
          target.ref.tell(new PoolEndpoint.Cancel(callId, directory));
        }
      }
    });
    PoolEndpoint.Call call = new PoolEndpoint.Call(callId, bytes, options.timeout().toNanos(), options.idempotent(),
        options.session(), options.session() == null ? null : options.affinity().name(), directory);
    if (bytes.length > frameLimit - ENVELOPE) {
      sendInParts(call, target);
    } else {
      target.ref.tell(call);
    }
    // Its node may have left the listing between the choice and the put above, after lost() looked.
    Table t = tables.get(name);
    if (t == null || t.registered.get(target.node) != target) {
      lost(target);
    }
  }

  /** A request larger than a frame goes in parts, each a {@link PoolEndpoint.CallPart}. */
  private void sendInParts(PoolEndpoint.Call call, Remote target) {
    List<byte[]> parts = Parts.split(call.request(), frameLimit - ENVELOPE);
    for (int i = 0; i < parts.size(); i++) {
      target.ref.tell(new PoolEndpoint.CallPart(new PoolEndpoint.Call(call.callId(), parts.get(i),
          call.timeoutNanos(), call.idempotent(), call.session(), call.affinity(), call.replyTo()), i, parts.size()));
    }
  }

  /** A part of a result too large for one frame; the last one to come answers the call as {@link #replied} does. */
  void repliedPart(PoolDirectory.ReplyPart part) {
    PoolDirectory.Reply reply = part.reply();
    String callId = reply.callId();
    Pending p = pending.get(callId);
    if (p == null) {
      dropResult(callId);
      return; // cancelled, or retried elsewhere after its node was lost
    }
    byte[] whole;
    try {
      Incoming incoming = results.get(callId);
      if (incoming == null) {
        // The serving pool's results are within its max-message-size, which its answer carries.
        incoming = incoming(callId, new Parts.Joining(part.count(), reply.load() == null ? Integer.MAX_VALUE
            : reply.load().maxMessageSize()), p);
        results.put(callId, incoming);
      }
      whole = incoming.joining().add(part.index(), part.count(), reply.value());
    } catch (IllegalArgumentException e) {
      dropResult(callId);
      String why = "the result of tool '" + p.request().getTool() + "' came from node " + reply.node() + " in parts"
          + " that do not join (" + e.getMessage() + "); the tool ran there";
      if (pending.remove(callId, p)) {
        p.target().sent.decrementAndGet();
        p.promise().completeExceptionally(e instanceof Parts.TooLarge
            ? new MessageTooLargeException(why + ". Return less, or raise max-message-size of pool '" + p.pool()
                + "' on node " + reply.node())
            : new SnakepitException(why + ". Call again"));
      }
      return;
    }
    if (whole == null) {
      if (!pending.containsKey(callId)) {
        dropResult(callId); // its call ended while this part was added
      }
      return;
    }
    dropResult(callId);
    replied(new PoolDirectory.Reply(callId, whole, reply.bytes(), null, reply.pool(), reply.node(), reply.load()));
  }

  /**
   * A result of call {@code callId} coming in parts into {@code joining}: past its call's deadline (without one, past
   * parts-timeout: a part may have been lost) it is dropped and the call times out.
   */
  private Incoming incoming(String callId, Parts.Joining joining, Pending p) {
    boolean deadline = p.options().timeout().compareTo(Duration.ZERO) > 0;
    Duration timeout = deadline ? p.options().timeout() : partsTimeout;
    return new Incoming(joining, system.scheduler().scheduleOnce(timeout, () -> {
      Incoming now = results.get(callId);
      if (now != null && now.joining() == joining && results.remove(callId, now) && pending.remove(callId, p)) {
        p.target().sent.decrementAndGet();
        String came = joining.received() + " of " + joining.count() + " parts of its result (" + joining.size()
            + " bytes) arrived; the tool ran there.";
        p.promise().completeExceptionally(new CallTimeoutException("the call of tool '" + p.request().getTool()
            + "' on node " + p.target().node + (deadline
                ? " passed its deadline of " + timeout.toMillis() + " ms when only " + came + " Give the call more"
                    + " time (CallOptions.withTimeout), or return less"
                : ": only " + came + " within " + PARTS_TIMEOUT + " = " + timeout.toMillis() + " ms (a part was"
                    + " lost on the way, as artery drops messages past its send queue). Call again, make fewer large"
                    + " calls at once, or raise " + PARTS_TIMEOUT)));
      }
    }, system.executionContext()));
  }

  /** Forgets the result in parts of call {@code callId}, if any, and its timer (which holds on to its parts). */
  private void dropResult(String callId) {
    Incoming incoming = results.remove(callId);
    if (incoming != null && incoming.expiry() != null) {
      incoming.expiry().cancel();
    }
  }

  /** An answer from the node that served a call. */
  void replied(PoolDirectory.Reply reply) {
    Pending p = pending.remove(reply.callId());
    Table t = tables.get(reply.pool());
    Remote from = t == null ? null : t.registered.get(reply.node());
    if (from != null && reply.load() != null) {
      from.reported = reply.load(); // fresher than the last report, even for a call no longer waited for
    }
    if (p == null) {
      return; // cancelled, or retried elsewhere after its node was lost
    }
    p.target().sent.decrementAndGet();
    if (reply.error() != null) {
      p.promise().completeExceptionally(reply.error().toException(reply.node()));
    } else if (reply.bytes()) {
      p.promise().complete(Result.ofBytes(reply.value()));
    } else {
      p.promise().complete(Result.ofJson(new String(reply.value(), StandardCharsets.UTF_8)));
    }
  }

  /** What {@code node} reported of its pools. */
  void reported(String node, Map<String, PoolLoad> pools) {
    pools.forEach((name, load) -> {
      Table t = tables.computeIfAbsent(name, n -> new Table());
      t.reports.put(node, load);
      Remote r = t.registered.get(node);
      if (r != null) {
        r.reported = load;
      }
    });
  }

  /**
   * The Receptionist's listing of pool {@code name}'s endpoints on other nodes changed: {@code reachable} may take
   * calls, {@code registered} are still members. Calls in flight to an endpoint no longer registered fail with
   * {@link NodeLostException}, or, if idempotent, go to another node.
   */
  void listed(String name, Map<String, ActorRef<PoolEndpoint.Command>> reachable,
      Map<String, ActorRef<PoolEndpoint.Command>> registered) {
    Table t = tables.computeIfAbsent(name, n -> new Table());
    registered.forEach((node, ref) -> t.registered.compute(node, (k, old) -> {
      if (old != null && old.ref.equals(ref)) {
        return old;
      }
      Remote r = new Remote(node, ref);
      r.reported = t.reports.get(node);
      return r;
    }));
    List<Remote> lost = new ArrayList<>();
    t.registered.entrySet().removeIf(e -> {
      if (!registered.containsKey(e.getKey()) || !registered.get(e.getKey()).equals(e.getValue().ref)) {
        lost.add(e.getValue());
        t.reports.remove(e.getKey());
        return true;
      }
      return false;
    });
    List<Remote> now = new ArrayList<>();
    reachable.keySet().stream().sorted().forEach(node -> {
      Remote r = t.registered.get(node);
      if (r != null) {
        now.add(r);
      }
    });
    t.reachable = List.copyOf(now);
    lost.forEach(this::lost);
  }

  /** Fails, or sends elsewhere, the calls in flight to an endpoint whose node was lost. */
  private void lost(Remote gone) {
    streams.lost(gone);
    for (Map.Entry<String, Pending> e : pending.entrySet()) {
      Pending p = e.getValue();
      if (p.target() != gone || !pending.remove(e.getKey(), p)) {
        continue;
      }
      dropResult(e.getKey());
      gone.sent.decrementAndGet();
      if (p.options().idempotent()) {
        submit(p.pool(), p.request(), p.options(), p.promise(), p.local());
      } else {
        p.promise().completeExceptionally(new NodeLostException(gone.node, "node " + gone.node + " was lost (it left"
            + " the cluster or was downed) before it answered the call of tool '" + p.request().getTool()
            + "' in pool '" + p.pool() + "'; the call may or may not have run there. Call again (another node"
            + " serves it), or mark calls that are safe to repeat with CallOptions.withIdempotent(true) to have them"
            + " retried on another node"));
      }
    }
  }

  /** This node's pools' loads, as reported to the others. */
  Map<String, PoolLoad> loads() {
    Map<String, PoolLoad> out = new java.util.HashMap<>();
    locals.forEach((name, l) -> out.put(name, l.load()));
    return out;
  }

  Collection<Local> locals() {
    return locals.values();
  }

  int frameLimit() {
    return frameLimit;
  }

  /** How many results are coming in parts now (for tests: each is dropped with its call). */
  int resultsInParts() {
    return results.size();
  }

  // Streaming calls (docs/CLUSTER.md, "Streaming calls"): routed by the same rule as unary ones, served by a
  // ServedStream on the chosen node, with credits from this node's RemoteStreams.

  /** The checked stream window, {@value #STREAM_WINDOW}. */
  static int streamWindow(int window) {
    if (window < 2) {
      throw new IllegalArgumentException(STREAM_WINDOW + " is " + window + ": a stream's window must be at least 2"
          + " items (16 is the default). Set it to 2 or more");
    }
    return window;
  }

  /** The items a stream of a clustered node asks for ahead of what its consumer has taken ({@value #STREAM_WINDOW}). */
  public int streamWindow() {
    return streamWindow;
  }

  /**
   * Sends a streaming call of pool {@code name} where the routing rule says, as {@link #submit} does a call: to this
   * node's pool through {@code local} (null if this node has no such pool), or to another node's, which runs it on
   * its own workers and sends the items as this node's consumer takes them. {@code items} gets the items and
   * {@code promise} completes after the last (or fails with the typed error); cancelling {@code promise} cancels the
   * call where it runs.
   */
  public void submitStream(String name, ExecuteRequest request, CallOptions options, StreamItems items,
      CompletableFuture<Void> promise, Consumer<CompletableFuture<Void>> local) {
    Local own = local == null ? null : locals.get(name);
    Table table = tables.get(name);
    List<Remote> remotes = table == null ? List.of() : table.reachable;
    if (options.session() != null) {
      streamInSession(name, request, options, items, promise, local, null, own, remotes);
      return;
    }
    int chosen = own != null && remotes.isEmpty() ? 0 : choose(own, remotes);
    if (chosen == Placement.NONE) {
      promise.completeExceptionally(unavailable(name));
    } else if (own != null && chosen == 0) {
      own.run(promise, local);
    } else {
      streams.open(name, request, options, items, promise, local, remotes.get(chosen - (own != null ? 1 : 0)));
    }
  }

  /** A streaming call of a session: to the node its {@link SessionBinding} holds, as {@link #inSession} does. */
  private void streamInSession(String name, ExecuteRequest request, CallOptions options, StreamItems items,
      CompletableFuture<Void> promise, Consumer<CompletableFuture<Void>> local, String gone, Local own,
      List<Remote> remotes) {
    routeSession(name, options, promise, gone, own, remotes, () -> own.run(promise, local),
        target -> streams.open(name, request, options, items, promise, local, target),
        (lost, now) -> streamInSession(name, request, options, items, promise, local, lost, own, now));
  }

  /** Whether {@code target} is still the endpoint of pool {@code name} on its node. */
  boolean registered(String name, Remote target) {
    Table t = tables.get(name);
    return t != null && t.registered.get(target.node) == target;
  }

  /** What a serving node told of a stream this node sent it. */
  void streamed(StreamProtocol.ToCaller event) {
    streams.on(event);
  }
}
