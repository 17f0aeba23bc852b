package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.snakepit.proto.ExecuteRequest;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Cluster pools with three {@code snakepit serve} JVMs on this host (one private PostgreSQL journal, as in
 * {@link ClusterIT}): nodes b and c run a pool {@code remote}, node a does not, and calls to it through a's gateway are
 * served by b's and c's workers, with their typed errors, deadline and cancellation, and so are streaming calls; when b is killed, the call in
 * flight to it fails naming the lost node, and the pool goes on with c.
 */
class ClusterPoolsIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String POOL = "remote";
  private static final Duration LIMIT = Duration.ofSeconds(60);

  @Test
  void gatewayCallOnANodeWithoutThePoolIsServedByTheOtherNodesWorkersAndALostNodesCallFailsNamingIt()
      throws Exception {
    Requires.postgres();
    PostgresServer.shared();
    String common = TestNodes.postgres() + "akka.cluster.split-brain-resolver.stable-after = 4s\n";
    Path plain = Files.createTempFile("snakepit-pools-a", ".conf");
    Files.writeString(plain, common);
    Path withPool = Files.createTempFile("snakepit-pools-bc", ".conf");
    Files.writeString(withPool, common + "snakepit.pools." + POOL + " { workers = 1, adapter = \""
        + TestNodes.EXAMPLE_ADAPTER + "\" }\n");
    List<ClusterIT.Member> members = ClusterIT.members("pools");
    List<Nodes.Node> nodes = new ArrayList<>();
    ManagedChannel channel = null;
    try {
      ClusterIT.startThree(members, List.of(plain, withPool, withPool), 1, nodes);
      Nodes.Node a = nodes.get(0);
      channel = a.channel();
      GatewayGrpc.GatewayFutureStub gateway = GatewayGrpc.newFutureStub(channel);

      // a has no pool 'remote'; b and c each have one worker in it, whose pids their status and /proc show.
      assertFalse(poolNames(a).contains(POOL), "node a runs pool " + POOL);
      int pidB = remoteWorkerPid(nodes.get(1));
      int pidC = remoteWorkerPid(nodes.get(2));
      Set<Integer> aTree = pids(Nodes.tree(a));
      assertFalse(aTree.contains(pidB) || aTree.contains(pidC), "a's tree holds b's or c's worker: " + aTree);

      // As soon as a has heard of the pool, its gateway serves it; two calls at once go one to each node.
      awaitAnswer(gateway, request("pid", "{}"));
      Set<Integer> served = new HashSet<>();
      for (int round = 0; round < 3; round++) {
        List<ListenableFuture<ExecuteResponse>> calls = List.of(
            gateway.execute(request("sleep_pid", "{\"seconds\": 1}")),
            gateway.execute(request("sleep_pid", "{\"seconds\": 1}")));
        for (ListenableFuture<ExecuteResponse> call : calls) {
          ExecuteResponse r = call.get(30, TimeUnit.SECONDS);
          assertTrue(r.hasValue(), r.toString());
          served.add(Integer.parseInt(r.getValue().getJson()));
        }
      }
      assertEquals(Set.of(pidB, pidC), served, "the pids that served a's calls; b's worker " + pidB + ", c's "
          + pidC);

      // A Python exception comes back typed, with its traceback.
      ExecuteResponse failed = gateway.execute(request("fail", "{\"kind\": \"KeyError\", \"message\": \"gone\"}"))
          .get(30, TimeUnit.SECONDS);
      assertTrue(failed.hasError(), failed.toString());
      assertEquals("KeyError", failed.getError().getType(), failed.toString());
      assertTrue(failed.getError().getMessage().contains("gone"), failed.toString());
      assertTrue(failed.getError().getTraceback().contains("Traceback"), failed.toString());

      // A 5 MiB payload and a 5 MiB result cross between a and the node that serves the call in parts, far over
      // artery's frame (256 KiB): the gateway of a node without the pool takes them, and the bytes come back whole.
      byte[] payload = new byte[5 << 20];
      new java.util.Random(5).nextBytes(payload);
      ExecuteResponse echoed = GatewayGrpc.newBlockingStub(channel).withMaxInboundMessageSize(16 << 20)
          .withDeadlineAfter(60, TimeUnit.SECONDS).execute(request("echo", "{}").toBuilder()
              .setPayload(com.google.protobuf.ByteString.copyFrom(payload)).setHasPayload(true).build());
      assertTrue(echoed.hasValue(), echoed.getError().toString());
      assertArrayEquals(payload, echoed.getValue().getRaw().toByteArray());
      ExecuteResponse blob = GatewayGrpc.newBlockingStub(channel).withMaxInboundMessageSize(16 << 20)
          .withDeadlineAfter(60, TimeUnit.SECONDS).execute(request("blob", "{\"size\": " + (5 << 20) + "}"));
      byte[] expected = new byte[5 << 20];
      for (int i = 0; i < expected.length; i++) {
        expected[i] = (byte) (i % 251);
      }
      assertArrayEquals(expected, blob.getValue().getRaw().toByteArray());

      // The client's deadline reaches the tool on the other node.
      ExecuteResponse left = GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
          .execute(request("deadline", "{}"));
      double seconds = JSON.readTree(left.getValue().getJson()).asDouble();
      assertTrue(seconds > 0 && seconds <= 5, "the tool on the other node saw " + left + " s left of 5");

      // A streaming call through a's gateway is served by b's or c's worker, its items forwarded in order; a tool's
      // failure comes typed after the items yielded before it.
      List<ExecuteResponse> streamed = new ArrayList<>();
      GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .executeStream(request("stream", "{\"count\": 60}")).forEachRemaining(streamed::add);
      List<Integer> indexes = new ArrayList<>();
      for (ExecuteResponse r : streamed) {
        assertTrue(r.hasValue(), r.toString());
        indexes.add(JSON.readTree(r.getValue().getJson()).get("i").asInt());
      }
      assertEquals(java.util.stream.IntStream.range(0, 60).boxed().toList(), indexes);
      List<ExecuteResponse> failing = new ArrayList<>();
      GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .executeStream(request("stream", "{\"count\": 10, \"fail_after\": 3}")).forEachRemaining(failing::add);
      assertEquals(4, failing.size(), failing.toString());
      assertTrue(failing.subList(0, 3).stream().allMatch(ExecuteResponse::hasValue), failing.toString());
      assertEquals("ValueError", failing.get(3).getError().getType(), failing.toString());

      // Cancelled calls (no deadline) free the other nodes' workers at once: the next calls are not held up.
      List<ListenableFuture<ExecuteResponse>> long1 = List.of(
          gateway.execute(request("sleep", "{\"seconds\": 60}")),
          gateway.execute(request("sleep", "{\"seconds\": 60}")));
      Thread.sleep(1500);
      long1.forEach(f -> f.cancel(true));
      long freedAt = System.nanoTime();
      List<ListenableFuture<ExecuteResponse>> next = List.of(
          gateway.execute(request("sleep_pid", "{\"seconds\": 0}")),
          gateway.execute(request("sleep_pid", "{\"seconds\": 0}")));
      for (ListenableFuture<ExecuteResponse> f : next) {
        assertTrue(f.get(15, TimeUnit.SECONDS).hasValue());
      }
      System.out.println("cluster pools: two calls after cancelling two 60 s calls on b and c answered in "
          + (System.nanoTime() - freedAt) / 1_000_000 + " ms");

      // kill -9 of b with a call in flight to each node: b's fails naming b, c's answers. First a load report of
      // both idle pools (load-interval = 1s), so that the two calls go one to each node.
      Thread.sleep(2500);
      List<ListenableFuture<ExecuteResponse>> inFlight = List.of(
          gateway.execute(request("sleep_pid", "{\"seconds\": 8}")),
          gateway.execute(request("sleep_pid", "{\"seconds\": 8}")));
      Thread.sleep(1000);
      List<Procs.Proc> bTree = Nodes.tree(nodes.get(1));
      Procs.kill(nodes.get(1).pid(), 9);
      nodes.get(1).process.waitFor();
      long killedAt = System.nanoTime();
      List<ExecuteResponse> answers = new ArrayList<>();
      for (ListenableFuture<ExecuteResponse> f : inFlight) {
        answers.add(f.get(LIMIT.toSeconds(), TimeUnit.SECONDS));
      }
      System.out.println("cluster pools: the call in flight to the killed node failed "
          + (System.nanoTime() - killedAt) / 1_000_000 + " ms after kill -9");
      List<ExecuteResponse> lost = answers.stream().filter(ExecuteResponse::hasError).toList();
      List<ExecuteResponse> values = answers.stream().filter(ExecuteResponse::hasValue).toList();
      assertEquals(1, lost.size(), answers.toString());
      assertEquals("snakepit.NodeLost", lost.get(0).getError().getType(), answers.toString());
      assertTrue(lost.get(0).getError().getMessage().contains(members.get(1).address())
          && lost.get(0).getError().getMessage().contains("withIdempotent"), lost.get(0).toString());
      assertEquals(List.of(Integer.toString(pidC)), values.stream().map(v -> v.getValue().getJson()).toList());
      assertEquals(List.of(), Procs.awaitGone(bTree, Duration.ofSeconds(10)), "b's workers outlived it");

      // b's pool has left the Receptionist: every call goes to c now.
      Set<Integer> after = new HashSet<>();
      for (int i = 0; i < 4; i++) {
        ExecuteResponse r = gateway.execute(request("pid", "{}")).get(30, TimeUnit.SECONDS);
        assertTrue(r.hasValue(), r.toString());
        after.add(Integer.parseInt(r.getValue().getJson()));
      }
      assertEquals(Set.of(pidC), after);
    } finally {
      if (channel != null) {
        channel.shutdownNow();
      }
      for (Nodes.Node n : nodes) {
        n.close();
      }
    }
  }

  static ExecuteRequest request(String tool, String args) {
    return ExecuteRequest.newBuilder().setPool(POOL).setTool(tool).setArgsJson(args).build();
  }

  /** Calls until a's gateway knows the pool (it hears of it from the others' first load report), at most 20 s. */
  static void awaitAnswer(GatewayGrpc.GatewayFutureStub gateway, ExecuteRequest request) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      try {
        ExecuteResponse r = gateway.execute(request).get(30, TimeUnit.SECONDS);
        assertTrue(r.hasValue(), r.toString());
        return;
      } catch (ExecutionException e) {
        Status s = e.getCause() instanceof StatusRuntimeException sre ? sre.getStatus() : Status.UNKNOWN;
        if (s.getCode() != Status.Code.NOT_FOUND || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  static Set<String> poolNames(Nodes.Node node) throws Exception {
    Set<String> names = new HashSet<>();
    ClusterIT.gatewayStatus(node).get("pools").forEach(p -> names.add(p.get("name").asText()));
    return names;
  }

  /** The pid of the one worker of the node's pool 'remote', as its status says, checked against its tree in /proc. */
  static int remoteWorkerPid(Nodes.Node node) throws Exception {
    for (JsonNode p : ClusterIT.gatewayStatus(node).get("pools")) {
      if (p.get("name").asText().equals(POOL)) {
        assertEquals(1, p.get("workers").size(), p.toString());
        int pid = p.get("workers").get(0).get("pid").asInt();
        assertTrue(pids(Nodes.tree(node)).contains(pid), "pid " + pid + " is not in the node's tree");
        return pid;
      }
    }
    throw new AssertionError("the node has no pool " + POOL);
  }

  static Set<Integer> pids(List<Procs.Proc> procs) {
    return procs.stream().map(Procs.Proc::pid).collect(Collectors.toSet());
  }
}
