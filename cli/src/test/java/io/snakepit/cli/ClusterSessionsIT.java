package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.PostgresServer;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Sharded sessions with three {@code snakepit serve} JVMs on this host (one private PostgreSQL journal, as in
 * {@link ClusterIT}): b and c run pool {@code remote} with one worker each, a does not. A session's calls through
 * a's gateway, and then through b's and c's, all reach one worker on one of them; when that node is killed, the call
 * in flight fails naming it, and the session's next call binds it to the other node's worker, where it stays.
 */
class ClusterSessionsIT {
  private static final String SESSION = "cart-7";
  private static final Duration LIMIT = Duration.ofSeconds(60);

  @Test
  void aSessionStaysOnItsWorkerOnAnotherNodeThroughEveryGatewayAndIsReboundWhenThatNodeIsKilled()
      throws Exception {
    List<Nodes.Node> nodes = new ArrayList<>();
    List<ManagedChannel> channels = new ArrayList<>();
    try {
      List<ClusterIT.Member> members = startThree("sessions", nodes);
      for (Nodes.Node n : nodes) {
        channels.add(n.channel());
      }
      assertFalse(ClusterPoolsIT.poolNames(nodes.get(0)).contains("remote"), "node a runs pool remote");
      int pidB = ClusterPoolsIT.remoteWorkerPid(nodes.get(1));
      int pidC = ClusterPoolsIT.remoteWorkerPid(nodes.get(2));
      Set<Integer> aTree = ClusterPoolsIT.pids(Nodes.tree(nodes.get(0)));
      assertFalse(aTree.contains(pidB) || aTree.contains(pidC), "a's tree holds b's or c's worker: " + aTree);
      ClusterPoolsIT.awaitAnswer(GatewayGrpc.newFutureStub(channels.get(0)), ClusterPoolsIT.request("pid", "{}"));

      // Through a's gateway, twenty calls of the session: one pid, b's worker or c's.
      GatewayGrpc.GatewayBlockingStub viaA = inSession(channels.get(0));
      int first = pid(viaA);
      assertTrue(first == pidB || first == pidC, "the session's worker " + first + " is neither b's (" + pidB
          + ") nor c's (" + pidC + ")");
      for (int i = 0; i < 19; i++) {
        assertEquals(first, pid(viaA), "call " + (i + 2) + " through a's gateway");
      }
      // Through b's and c's gateways too (each of them runs the pool and has an idle worker of its own).
      for (int n = 1; n <= 2; n++) {
        GatewayGrpc.GatewayBlockingStub via = inSession(channels.get(n));
        for (int i = 0; i < 10; i++) {
          assertEquals(first, pid(via), "call " + (i + 1) + " through " + members.get(n).instance() + "'s gateway");
        }
      }
      int holder = first == pidB ? 1 : 2;
      int survivor = 3 - holder;
      int survivorPid = holder == 1 ? pidC : pidB;

      // The affinity travels with the call to the session's node: while its worker runs a call of the session
      // (through a), a strict-fail-fast call of it through the other node's gateway fails at once with SessionBusy,
      // although that node's own worker is idle.
      GatewayGrpc.GatewayFutureStub asyncViaA = GatewayGrpc.newFutureStub(channels.get(0))
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(session("strict-queue")));
      var busy = asyncViaA.execute(ClusterPoolsIT.request("sleep_pid", "{\"seconds\": 3}"));
      Thread.sleep(1000);
      ExecuteResponse refused = GatewayGrpc.newBlockingStub(channels.get(survivor))
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(session("strict-fail-fast")))
          .withDeadlineAfter(LIMIT.toSeconds(), TimeUnit.SECONDS).execute(ClusterPoolsIT.request("pid", "{}"));
      assertTrue(refused.hasError(), "a strict-fail-fast call while the session's worker is busy: " + refused);
      assertEquals("snakepit.SessionBusy", refused.getError().getType(), refused.toString());
      assertEquals(Integer.toString(first), busy.get(LIMIT.toSeconds(), TimeUnit.SECONDS).getValue().getJson());
      System.out.println("cluster sessions: session " + SESSION + " is on " + members.get(holder).instance()
          + "'s worker " + first + " after 40 calls through three gateways");

      // kill -9 of the node that holds the session, with one of its calls in flight through a.
      var inFlight = asyncViaA.execute(ClusterPoolsIT.request("sleep_pid", "{\"seconds\": 8}"));
      Thread.sleep(1000);
      List<Procs.Proc> holderTree = Nodes.tree(nodes.get(holder));
      Procs.kill(nodes.get(holder).pid(), 9);
      nodes.get(holder).process.waitFor();
      long killedAt = System.nanoTime();
      ExecuteResponse lost = inFlight.get(LIMIT.toSeconds(), TimeUnit.SECONDS);
      assertTrue(lost.hasError(), lost.toString());
      assertEquals("snakepit.NodeLost", lost.getError().getType(), lost.toString());
      assertTrue(lost.getError().getMessage().contains(members.get(holder).address()), lost.toString());
      System.out.println("cluster sessions: the session's call in flight to the killed node failed "
          + (System.nanoTime() - killedAt) / 1_000_000 + " ms after kill -9");
      assertEquals(List.of(), Procs.awaitGone(holderTree, Duration.ofSeconds(10)), "the killed node's workers");

      // The next call binds the session to the survivor's worker, and it stays there through both gateways.
      long reboundFrom = System.nanoTime();
      int rebound = pidRetrying(viaA);
      System.out.println("cluster sessions: the session's next call was answered "
          + (System.nanoTime() - reboundFrom) / 1_000_000 + " ms after the lost call failed");
      assertEquals(survivorPid, rebound, "the session's worker after the kill");
      assertTrue(ClusterPoolsIT.pids(Nodes.tree(nodes.get(survivor))).contains(rebound),
          "pid " + rebound + " is not in the surviving node's tree");
      for (int i = 0; i < 10; i++) {
        assertEquals(survivorPid, pid(viaA), "call " + (i + 2) + " through a's gateway after the kill");
      }
      GatewayGrpc.GatewayBlockingStub viaSurvivor = inSession(channels.get(survivor));
      for (int i = 0; i < 10; i++) {
        assertEquals(survivorPid, pid(viaSurvivor), "call " + (i + 1) + " through the survivor's gateway");
      }
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  /**
   * The binding of a session is kept by the node whose call first needed it (here a, which runs no pool). When a is
   * killed, the session's worker on b or c still holds it: its next call, through the other pool node's gateway
   * (whose own worker is idle, and which the routing would pick for a new session), reaches that same worker.
   */
  @Test
  void aSessionKeepsItsWorkerWhenTheNodeThatHeldItsBindingIsKilled() throws Exception {
    List<Nodes.Node> nodes = new ArrayList<>();
    List<ManagedChannel> channels = new ArrayList<>();
    try {
      List<ClusterIT.Member> members = startThree("binding", nodes);
      for (Nodes.Node n : nodes) {
        channels.add(n.channel());
      }
      int pidB = ClusterPoolsIT.remoteWorkerPid(nodes.get(1));
      int pidC = ClusterPoolsIT.remoteWorkerPid(nodes.get(2));
      ClusterPoolsIT.awaitAnswer(GatewayGrpc.newFutureStub(channels.get(0)), ClusterPoolsIT.request("pid", "{}"));
      GatewayGrpc.GatewayBlockingStub viaA = inSession(channels.get(0));
      int first = pid(viaA);
      assertTrue(first == pidB || first == pidC, "the session's worker " + first + " is neither b's (" + pidB
          + ") nor c's (" + pidC + ")");
      for (int i = 0; i < 4; i++) {
        assertEquals(first, pid(viaA), "call " + (i + 2) + " through a's gateway");
      }
      int holder = first == pidB ? 1 : 2;
      int other = 3 - holder;

      Procs.kill(nodes.get(0).pid(), 9);
      nodes.get(0).process.waitFor();
      GatewayGrpc.GatewayBlockingStub viaOther = inSession(channels.get(other));
      assertEquals(first, pidRetrying(viaOther), "the session's call through " + members.get(other).instance()
          + "'s gateway after a, which held its binding, was killed");
      for (int i = 0; i < 5; i++) {
        assertEquals(first, pid(viaOther), "call " + (i + 2) + " through " + members.get(other).instance()
            + " after the kill");
        assertEquals(first, pid(inSession(channels.get(holder))), "call " + (i + 2) + " through "
            + members.get(holder).instance() + " after the kill");
      }
      String recovered = "session '" + SESSION + "' of pool 'remote': bound again to node "
          + members.get(holder).address();
      assertTrue(nodes.get(1).stderr().stream().anyMatch(l -> l.contains(recovered))
          || nodes.get(2).stderr().stream().anyMatch(l -> l.contains(recovered)),
          "neither b nor c logged '" + recovered + "'");
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  /**
   * Starts a (no pool), b and c (pool {@code remote}, one worker each), instances {@code PREFIX-a/b/c}, sharing the
   * private PostgreSQL journal; {@code nodes} gets them as they start.
   */
  private static List<ClusterIT.Member> startThree(String prefix, List<Nodes.Node> nodes) throws Exception {
    Requires.postgres();
    PostgresServer.shared();
    String common = TestNodes.postgres() + "akka.cluster.split-brain-resolver.stable-after = 4s\n";
    Path plain = Files.createTempFile("snakepit-" + prefix + "-a", ".conf");
    Files.writeString(plain, common);
    Path withPool = Files.createTempFile("snakepit-" + prefix + "-bc", ".conf");
    Files.writeString(withPool, common + "snakepit.pools.remote { workers = 1, adapter = \""
        + TestNodes.EXAMPLE_ADAPTER + "\" }\n");
    List<ClusterIT.Member> members = ClusterIT.members(prefix);
    ClusterIT.startThree(members, List.of(plain, withPool, withPool), 1, nodes);
    return members;
  }

  private static Metadata session(String affinity) {
    Metadata m = new Metadata();
    m.put(GatewaySession.SESSION, SESSION);
    m.put(GatewaySession.AFFINITY, affinity);
    return m;
  }

  private static GatewayGrpc.GatewayBlockingStub inSession(ManagedChannel channel) {
    return GatewayGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(session("strict-queue")))
        .withDeadlineAfter(LIMIT.toSeconds(), TimeUnit.SECONDS);
  }

  private static int pid(GatewayGrpc.GatewayBlockingStub stub) {
    ExecuteResponse r = stub.withDeadlineAfter(LIMIT.toSeconds(), TimeUnit.SECONDS)
        .execute(ClusterPoolsIT.request("pid", "{}"));
    assertTrue(r.hasValue(), r.toString());
    return Integer.parseInt(r.getValue().getJson());
  }

  /**
   * The session's first call after its node's loss, allowing (within 60 s) for the unavailable answers of the time
   * the cluster takes to move the sharding entities the lost node held.
   */
  private static int pidRetrying(GatewayGrpc.GatewayBlockingStub stub) throws Exception {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (true) {
      ExecuteResponse r = stub.withDeadlineAfter(LIMIT.toSeconds(), TimeUnit.SECONDS)
          .execute(ClusterPoolsIT.request("pid", "{}"));
      if (r.hasValue()) {
        return Integer.parseInt(r.getValue().getJson());
      }
      if (!r.getError().getType().equals("snakepit.PoolUnavailable") || System.nanoTime() > deadline) {
        throw new AssertionError("the session's call after the kill: " + r);
      }
      System.out.println("cluster sessions: retrying after " + r.getError().getMessage());
      Thread.sleep(500);
    }
  }
}
