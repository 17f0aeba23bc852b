package io.snakepit.cluster;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import akka.cluster.Cluster;
import akka.cluster.Member;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.snakepit.NodeStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * The status of every node of the cluster, for {@code snakepit status} and {@code /status} on a clustered node. Each
 * node runs a small status actor registered with the Receptionist under {@link #KEY}; asking for the cluster's status
 * asks every registered one, each within {@code snakepit.cluster.status-timeout}, and lists a member that does not
 * answer in time (or has none registered) as unreachable, so that one lost or paused node never hangs the command.
 * It exists apart from the node's own status ({@code Snakepit.status()}, synchronous and local) because the cluster's
 * is a question to other JVMs, answered late or never.
 */
public final class ClusterStatus {
  /** The Receptionist's key of every node's status actor. */
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "snakepit-status");

  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a node's status actor takes. */
  public interface Command extends ClusterMessage {}

  /**
   * Asks a node for its status.
   *
   * @param replyTo where its {@link Answer} goes
   */
  public record Ask(ActorRef<Answer> replyTo) implements Command {}

  /**
   * A node's status, as {@code /status} of that node alone would serve it ({@link NodeStatus#toJson()}).
   *
   * @param address the node's cluster address, {@code SYSTEM@HOST:PORT}
   * @param json its status as JSON text
   */
  public record Answer(String address, String json) implements ClusterMessage {}

  private final ActorSystem<?> system;
  private final Cluster cluster;
  private final Supplier<NodeStatus> local;
  private final Duration timeout;

  private ClusterStatus(ActorSystem<?> system, Supplier<NodeStatus> local, Duration timeout) {
    this.system = system;
    this.cluster = Cluster.get(Adapter.toClassic(system));
    this.local = local;
    this.timeout = timeout;
  }

  /**
   * Starts this node's status actor, registered with the Receptionist, and returns the way to ask the cluster. The
   * system must run with the cluster provider ({@link ClusterSettings#akka}).
   *
   * @param local this node's own status, e.g. {@code snakepit::status}
   * @param timeout how long to wait for each other node ({@link #timeout(Config)})
   */
  public static ClusterStatus start(ActorSystem<?> system, Supplier<NodeStatus> local, Duration timeout) {
    ClusterStatus status = new ClusterStatus(system, local, timeout);
    system.systemActorOf(Reporter.create(local, status.self()), "snakepit-cluster-status", Props.empty());
    return status;
  }

  /** {@code snakepit.cluster.status-timeout} of {@code config} (the whole configuration). */
  public static Duration timeout(Config config) {
    Duration d = config.getDuration("snakepit.cluster.status-timeout");
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("snakepit.cluster.status-timeout is " + d + ": give a positive duration,"
          + " e.g. 3s");
    }
    return d;
  }

  /**
   * Every node's status: this node's {@link NodeStatus#toJsonTree()} (so {@code instance}, {@code time} and
   * {@code pools} stay this node's), with {@code nodes} added: one object per member, in address order, with
   * {@code address}, {@code self}, {@code reachable}, and either that node's {@code instance}, {@code time} and
   * {@code pools}, or {@code error} saying why it is missing. Completes within about twice the timeout, whatever the
   * other nodes do.
   */
  public CompletionStage<ObjectNode> gather() {
    NodeStatus mine = local.get();
    String self = self();
    Map<String, ObjectNode> nodes = new TreeMap<>();
    nodes.put(self, node(self, true, mine.toJsonTree()));
    Set<String> members = new TreeSet<>();
    for (Member m : cluster.state().getMembers()) {
      members.add(name(m.address()));
    }
    // Akka's failure detector has already lost these: asking them would only wait out the timeout.
    Set<String> lost = new TreeSet<>();
    for (Member m : cluster.state().getUnreachable()) {
      lost.add(name(m.address()));
      nodes.put(name(m.address()), unreachable(name(m.address()), "the cluster's failure detector marks it"
          + " unreachable (no heartbeat from it)"));
    }
    CompletionStage<Receptionist.Listing> listing = AskPattern.ask(system.receptionist(),
        (ActorRef<Receptionist.Listing> r) -> Receptionist.find(KEY, r), timeout, system.scheduler());
    return listing.handle((found, error) -> found == null ? Set.<ActorRef<Command>>of()
            : found.getServiceInstances(KEY))
        .thenCompose(refs -> {
          List<CompletableFuture<Void>> asks = new ArrayList<>();
          for (ActorRef<Command> ref : refs) {
            Address a = ref.path().address();
            if (a.hasLocalScope()) {
              continue;
            }
            String address = name(a);
            members.add(address);
            if (lost.contains(address)) {
              continue;
            }
            asks.add(AskPattern.ask(ref, (ActorRef<Answer> r) -> new Ask(r), timeout, system.scheduler())
                .handle((answer, failure) -> {
                  ObjectNode entry = answer == null ? unreachable(address, "no answer within "
                      + "snakepit.cluster.status-timeout = " + timeout.toMillis() + " ms") : parsed(answer);
                  synchronized (nodes) {
                    nodes.put(address, entry);
                  }
                  return (Void) null;
                }).toCompletableFuture());
          }
          return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new));
        })
        .thenApply(done -> {
          ObjectNode root = mine.toJsonTree();
          ArrayNode list = root.putArray("nodes");
          synchronized (nodes) {
            for (String m : members) {
              nodes.computeIfAbsent(m, x -> unreachable(x, "no status service registered on it (a node that is still"
                  + " starting, or one that is not snakepit serve)"));
            }
            nodes.values().forEach(list::add);
          }
          return root;
        });
  }

  /** {@link #gather()} as JSON text. */
  public CompletionStage<String> json() {
    return gather().thenApply(ObjectNode::toString);
  }

  private String self() {
    return name(cluster.selfAddress());
  }

  private static ObjectNode node(String address, boolean self, ObjectNode status) {
    ObjectNode n = JSON.createObjectNode().put("address", address).put("self", self).put("reachable", true);
    n.setAll(status);
    return n;
  }

  private static ObjectNode parsed(Answer answer) {
    try {
      return node(answer.address(), false, (ObjectNode) JSON.readTree(answer.json()));
    } catch (JsonProcessingException | ClassCastException e) {
      return unreachable(answer.address(), "its answer is not a status: " + e.getMessage());
    }
  }

  private static ObjectNode unreachable(String address, String why) {
    return JSON.createObjectNode().put("address", address).put("self", false).put("reachable", false)
        .put("error", why);
  }

  private static String name(Address a) {
    return a.system() + "@" + a.host().get() + ":" + a.port().get();
  }

  /** A node's status actor: answers every {@link Ask} with the node's status of the moment. */
  static final class Reporter extends AbstractBehavior<Command> {
    private final Supplier<NodeStatus> local;
    private final String self;

    static Behavior<Command> create(Supplier<NodeStatus> local, String self) {
      return Behaviors.setup(context -> {
        context.getSystem().receptionist().tell(Receptionist.register(KEY, context.getSelf()));
        return new Reporter(context, local, self);
      });
    }

    private Reporter(ActorContext<Command> context, Supplier<NodeStatus> local, String self) {
      super(context);
      this.local = local;
      this.self = self;
    }

    @Override
    public Receive<Command> createReceive() {
      return newReceiveBuilder().onMessage(Ask.class, this::onAsk).build();
    }

    private Behavior<Command> onAsk(Ask ask) {
      ask.replyTo().tell(new Answer(self, local.get().toJson()));
      return this;
    }
  }
}
