package io.snakepit.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Cluster;
import akka.cluster.MemberStatus;
import akka.remote.RARP;
import akka.remote.RARP$;
import akka.remote.transport.ThrottlerTransportAdapter;
import io.snakepit.CallOptions;
import io.snakepit.NodeLostException;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two clustered nodes in this JVM, each with real workers in pool "default" (a: one, b: two). a's calls go to b when
 * its own worker is busy; then a and b are cut off from each other (artery's test blackhole), the split brain
 * resolver on a downs b, and a's calls in flight to b end: the idempotent one runs again on a's own worker, the other
 * fails with {@link NodeLostException} naming b.
 */
class ClusterPoolsNodeLossIT {
  private static ActorTestKit a;
  private static ActorTestKit b;
  private static Address addressB;

  @BeforeAll
  static void start() throws Exception {
    List<Integer> ports = new ArrayList<>(List.of(freePort(), freePort()));
    ports.sort(null); // keep-majority keeps the side with the lowest address on a tie: a's
    List<ClusterSettings.Seed> seeds = ports.stream().map(p -> new ClusterSettings.Seed("127.0.0.1", p)).toList();
    a = node(ports.get(0), seeds, 1);
    b = node(ports.get(1), seeds, 2);
    addressB = Cluster.get(Adapter.toClassic(b.system())).selfAddress();
    Snakepit.get(a.system()).ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
    Snakepit.get(b.system()).ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
    Cluster ca = Cluster.get(Adapter.toClassic(a.system()));
    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (countUp(ca) < 2) {
      assertTrue(System.nanoTime() < until, "the two nodes did not both get Up within 30 s");
      Thread.sleep(100);
    }
  }

  private static ActorTestKit node(int port, List<ClusterSettings.Seed> seeds, int workers) throws IOException {
    ClusterSettings settings = new ClusterSettings("127.0.0.1", port, seeds, Duration.ofSeconds(30), false, null);
    String overrides = "snakepit.registry.enabled = off\n"
        + "snakepit.data-dir = \"" + Files.createTempDirectory("snakepit-loss") + "\"\n"
        + "snakepit.pools.default.workers = " + workers + "\n"
        + "akka.remote.artery.advanced.test-mode = on\n"
        + "akka.cluster.split-brain-resolver.stable-after = 2s\n";
    return ActorTestKit.create("snakepit", settings.over(TestNodes.config(overrides), "snakepit"));
  }

  @AfterAll
  static void stop() {
    for (ActorTestKit kit : new ActorTestKit[] {a, b}) {
      if (kit != null) {
        kit.shutdownTestKit();
      }
    }
  }

  @Test
  void callsInFlightToALostNodeFailNamingItAndIdempotentOnesRunAgainHere() throws Exception {
    Pool pool = Snakepit.get(a.system()).pool("default");
    Set<Integer> pidsA = workerPids(Snakepit.get(a.system()));
    Set<Integer> pidsB = workerPids(Snakepit.get(b.system()));
    // Until a has b's endpoint and load, a busy a keeps its calls: wait until a call goes to b.
    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      CompletableFuture<Result> busy = call(pool, 1, CallOptions.defaults());
      int other = Integer.parseInt(call(pool, 0, CallOptions.defaults()).get(30, TimeUnit.SECONDS).json());
      busy.get(30, TimeUnit.SECONDS);
      if (pidsB.contains(other)) {
        break;
      }
      assertTrue(System.nanoTime() < until, "a sent no call to b within 20 s");
    }
    Thread.sleep(1500); // a fresh load report of both idle pools

    // a's worker busy; then an idempotent call and a plain one, both to b (the least loaded per capacity).
    CompletableFuture<Result> local = call(pool, 4, CallOptions.defaults());
    Thread.sleep(200);
    CompletableFuture<Result> idempotent = call(pool, 4, CallOptions.defaults().withIdempotent(true));
    CompletableFuture<Result> plain = call(pool, 4, CallOptions.defaults());
    Thread.sleep(500);
    // Scala's nested case object Direction.Both has no name javac can reach.
    ThrottlerTransportAdapter.Direction both = (ThrottlerTransportAdapter.Direction) Class.forName(
        "akka.remote.transport.ThrottlerTransportAdapter$Direction$Both$").getField("MODULE$").get(null);
    ThrottlerTransportAdapter.SetThrottle cut = new ThrottlerTransportAdapter.SetThrottle(addressB, both,
        ThrottlerTransportAdapter.Blackhole$.MODULE$);
    ((RARP) RARP$.MODULE$.get(Adapter.toClassic(a.system()))).provider().transport().managementCommand(cut);
    long cutAt = System.nanoTime();

    ExecutionException lost = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
        () -> plain.get(60, TimeUnit.SECONDS));
    NodeLostException e = assertInstanceOf(NodeLostException.class, lost.getCause());
    String b = addressB.system() + "@" + addressB.host().get() + ":" + addressB.port().get();
    assertEquals(b, e.node());
    assertTrue(e.getMessage().contains("node " + b + " was lost") && e.getMessage().contains("withIdempotent(true)"),
        e.getMessage());
    System.out.println("cluster pools: the call in flight to the lost node failed "
        + (System.nanoTime() - cutAt) / 1_000_000 + " ms after the cut");
    int again = Integer.parseInt(idempotent.get(60, TimeUnit.SECONDS).json());
    assertTrue(pidsA.contains(again), "the idempotent call ran again on " + again + ", not on a's worker " + pidsA);
    assertTrue(pidsA.contains(Integer.parseInt(local.get(30, TimeUnit.SECONDS).json())));
    // b's side downed itself (the minority of a tie): its system stops, and its workers with it.
    assertTrue(b().getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS) != null);
    List<Procs.Proc> left = new ArrayList<>();
    for (int pid : pidsB) {
      Procs.of(pid).ifPresent(left::add);
    }
    assertEquals(List.of(), Procs.awaitGone(left, Duration.ofSeconds(10)), "b's workers outlived b");
  }

  private static akka.actor.typed.ActorSystem<Void> b() {
    return b.system();
  }

  private static CompletableFuture<Result> call(Pool pool, double seconds, CallOptions options) {
    return pool.execute("sleep_pid", "{\"seconds\": " + seconds + "}", options).toCompletableFuture();
  }

  private static Set<Integer> workerPids(Snakepit snakepit) throws Exception {
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      Set<Integer> pids = snakepit.status().pools().stream().flatMap(p -> p.workers().stream())
          .map(w -> w.pid()).filter(pid -> pid > 0).collect(Collectors.toSet());
      if (!pids.isEmpty() || System.nanoTime() > until) {
        return pids;
      }
      Thread.sleep(100);
    }
  }

  private static int countUp(Cluster cluster) {
    int n = 0;
    for (akka.cluster.Member m : cluster.state().getMembers()) {
      if (m.status() == MemberStatus.up()) {
        n++;
      }
    }
    return n;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
