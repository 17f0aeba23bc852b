package io.snakepit.bench;

import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Cluster;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import io.snakepit.Pool;
import io.snakepit.PoolUnavailableException;
import io.snakepit.cluster.ClusterSettings;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Cluster: what a call costs when another node serves it. Two clustered nodes in this JVM, each with one worker of
 * its own pool (the same settings, the example adapter); this node calls {@code ping} on its own pool ("here") and on
 * the other node's ("there"), which crosses the cluster's transport (artery over TCP on loopback, the request and
 * result as Jackson CBOR messages) both ways. One call at a time, the two pools taking turns (here, there, there,
 * here, ...); each turn's p50 and p99 is one sample.
 */
final class ClusterBench implements Bench {
  private static final String HERE = "here";
  private static final String THERE = "there";

  @Override
  public List<Measurement> run(Context c) throws Exception {
    List<Integer> ports = List.of(freePort(), freePort());
    List<ClusterSettings.Seed> seeds = List.of(new ClusterSettings.Seed("127.0.0.1", ports.get(0)));
    try (Node local = clustered(c, HERE, ports.get(0), seeds);
        Node remote = clustered(c, THERE, ports.get(1), seeds)) {
      local.awaitReady();
      remote.awaitReady();
      awaitUp(local, 2);
      Pool here = local.snakepit.pool(HERE);
      Pool there = awaitKnown(local, THERE);
      // Warm both paths (the JIT, artery's connections), then take turns.
      double turn = c.quick() ? 0.3 : 2;
      ClosedLoop.run(1, c.quick() ? 0.5 : 5, () -> ping(here));
      ClosedLoop.run(1, c.quick() ? 0.5 : 5, () -> ping(there));
      List<Double> hereP50 = new ArrayList<>();
      List<Double> thereP50 = new ArrayList<>();
      List<Double> hereP99 = new ArrayList<>();
      List<Double> thereP99 = new ArrayList<>();
      for (int i = 0; i < 2 * c.runs(); i++) {
        boolean hereTurn = i % 4 == 0 || i % 4 == 3;
        ClosedLoop.Window w = ClosedLoop.run(1, turn, () -> ping(hereTurn ? here : there));
        (hereTurn ? hereP50 : thereP50).add(w.micros(50));
        (hereTurn ? hereP99 : thereP99).add(w.micros(99));
      }
      return measurements(hereP50, thereP50, hereP99, thereP99);
    }
  }

  private static Node clustered(Context c, String pool, int port, List<ClusterSettings.Seed> seeds) {
    ClusterSettings cluster = new ClusterSettings("127.0.0.1", port, seeds, Duration.ofSeconds(60), false, null);
    return Node.startClustered(c, c.freshInstance("bench"), pool + " { workers = 1 }", cluster);
  }

  private static void ping(Pool pool) throws Exception {
    String json = pool.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS).json();
    if (!json.contains("pong")) {
      throw new IllegalStateException("ping answered " + json);
    }
  }

  /** Waits, at most 60 s, until {@code node} sees {@code count} members Up. */
  private static void awaitUp(Node node, int count) throws InterruptedException {
    Cluster cluster = Cluster.get(Adapter.toClassic(node.system));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      long up = 0;
      for (Member m : cluster.state().getMembers()) {
        up += m.status() == MemberStatus.up() ? 1 : 0;
      }
      if (up >= count) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the benchmark's two nodes were not both Up within 60 s: " + cluster.state());
      }
      Thread.sleep(100);
    }
  }

  /**
   * The other node's pool, once this node has heard of it (from its first load report) and it answered a call; at
   * most 30 s.
   */
  private static Pool awaitKnown(Node node, String name) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        Pool pool = node.snakepit.pool(name);
        ping(pool);
        return pool;
      } catch (IllegalArgumentException | ExecutionException e) {
        boolean unknown = e instanceof IllegalArgumentException || e.getCause() instanceof PoolUnavailableException;
        if (!unknown || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  private static List<Measurement> measurements(List<Double> hereP50, List<Double> thereP50, List<Double> hereP99,
      List<Double> thereP99) {
    String setup = "Two clustered nodes in one JVM (artery over TCP on loopback), one worker each in a pool of its"
        + " own; the calls start on the first node. One call at a time; the two pools take turns (here, there,"
        + " there, here, ...), one sample per turn";
    String local = "served by this node's worker";
    String remote = "served by the other node's worker";
    return List.of(
        new Measurement("cluster.latency.p50", "Cluster", "p50 of one ping alone, another node's worker against"
            + " this node's", "µs", new Series(remote, thereP50), new Series(local, hereP50), Goal.none(), setup
            + ". The ratio is what the hop to the other node and back costs: the request and its result cross the"
            + " cluster's transport as Jackson CBOR messages, and the other node's pool hands the call to its"
            + " worker as this node's does."),
        new Measurement("cluster.latency.p99", "Cluster", "p99 of one ping alone, another node's worker against"
            + " this node's", "µs", new Series(remote, thereP99), new Series(local, hereP99), Goal.none(), setup
            + "."));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
