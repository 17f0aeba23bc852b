package io.snakepit.cluster;

import akka.actor.Address;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Cluster;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What a clustered node knows of its cluster, read from Akka's view of it: whether it is a member yet, who else is,
 * and who is unreachable. It exists so that {@code serve} can wait for membership with a limit and report it in its
 * ready line and in {@code /health}.
 */
public final class Membership {
  private final Cluster cluster;
  private final ClusterSettings settings;
  private final CompletableFuture<Void> up = new CompletableFuture<>();

  private Membership(Cluster cluster, ClusterSettings settings) {
    this.cluster = cluster;
    this.settings = settings;
    cluster.registerOnMemberUp(() -> up.complete(null));
  }

  /** The membership of {@code system}, which must run with the cluster provider ({@link ClusterSettings#akka}). */
  public static Membership of(ActorSystem<?> system, ClusterSettings settings) {
    return new Membership(Cluster.get(Adapter.toClassic(system)), settings);
  }

  /**
   * Waits until this node is Up, at most {@code joinTimeout} of its settings counted from when it started.
   *
   * @throws TimeoutException with a message that names the seeds, the setting and what to check
   */
  public void awaitUp(long startedAtNanos) throws TimeoutException, InterruptedException {
    long left = settings.joinTimeout().toNanos() - (System.nanoTime() - startedAtNanos);
    try {
      up.get(Math.max(left, 0), TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new TimeoutException("the node did not join the cluster within snakepit.cluster.join-timeout = "
          + settings.joinTimeout().toSeconds() + " s through the seeds "
          + settings.seeds().stream().map(ClusterSettings.Seed::hostPort).toList() + " (--seed): check that a seed"
          + " node runs and that this host reaches its cluster port; to start a new cluster, this node's own address ("
          + settings.self().hostPort() + ") must be the first seed" + (settings.tls() == null ? "" : "; with"
          + " cluster TLS, also check that this node's certificate (" + settings.tls().cert() + ") was issued by the"
          + " CA the seeds trust, that theirs were issued by --cluster-tls-ca (" + settings.tls().ca() + "), and that"
          + " all share a subject name (this node's log names the TLS error of each attempt)"));
    }
  }

  /** This node's address, {@code SYSTEM@HOST:PORT}. */
  public String self() {
    Address a = cluster.selfAddress();
    return a.system() + "@" + a.host().get() + ":" + a.port().get();
  }

  /** How many members are Up. */
  public int membersUp() {
    int n = 0;
    for (Member m : cluster.state().getMembers()) {
      if (m.status() == MemberStatus.up()) {
        n++;
      }
    }
    return n;
  }

  /** What the ready line says of the cluster: {@code cluster SYSTEM@HOST:PORT (N members)}. */
  public String describe() {
    int n = membersUp();
    return "cluster " + self() + " (" + n + (n == 1 ? " member)" : " members)");
  }

  /**
   * The cluster as {@code /health} shows it: this node's address and status, the leader, every member with its
   * status, and the unreachable ones.
   */
  public ObjectNode toJson(ObjectMapper json) {
    ClusterEvent.CurrentClusterState state = cluster.state();
    ObjectNode body = json.createObjectNode();
    body.put("self", self());
    body.put("status", cluster.selfMember().status().toString());
    Address leader = state.getLeader();
    body.put("leader", leader == null ? null : name(leader));
    List<Member> members = new ArrayList<>();
    state.getMembers().forEach(members::add);
    members.sort(Comparator.comparing(m -> name(m.address())));
    ArrayNode list = body.putArray("members");
    for (Member m : members) {
      list.addObject().put("address", name(m.address())).put("status", m.status().toString());
    }
    ArrayNode unreachable = body.putArray("unreachable");
    state.getUnreachable().stream().map(m -> name(m.address())).sorted().forEach(unreachable::add);
    return body;
  }

  private static String name(Address a) {
    return a.system() + "@" + a.host().get() + ":" + a.port().get();
  }
}
