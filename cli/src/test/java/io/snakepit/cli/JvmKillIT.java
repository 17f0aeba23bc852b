package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.Procs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The core guarantee: {@code kill -9} of the JVM takes every worker's tree down, grandchildren included, within
 * seconds and without anyone's help.
 */
class JvmKillIT {
  private static final int WORKERS = 8;
  private static final int ROUNDS = 5;

  @Test
  void killingTheJvmTakesEveryWorkerTreeDownWithinFiveSeconds() throws Exception {
    List<Long> millis = new ArrayList<>();
    for (int round = 0; round < ROUNDS; round++) {
      millis.add(killOnce());
    }
    List<Long> sorted = millis.stream().sorted().toList();
    System.out.println("JVM kill -9 to last process gone, " + WORKERS + " workers with children and grandchildren: "
        + "median " + sorted.get(ROUNDS / 2) + " ms over " + ROUNDS + " runs " + millis);
  }

  /** One round: start a node, grow a tree per worker, kill -9 the JVM; returns ms until the last process is gone. */
  private long killOnce() throws Exception {
    Nodes.Node node = Nodes.serve("--workers", Integer.toString(WORKERS),
        "--adapter", "snakepit_worker.examples.forking:ForkingAdapter");
    try {
      Set<Integer> workers = new HashSet<>();
      ManagedChannel channel = node.channel();
      try {
        GatewayGrpc.GatewayBlockingStub stub = GatewayGrpc.newBlockingStub(channel);
        for (int i = 0; i < WORKERS; i++) {
          ExecuteResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
              .execute(ExecuteRequest.newBuilder().setTool("spawn_tree").setArgsJson("{}").build());
          assertTrue(r.hasValue(), r.toString());
          workers.add(Integer.parseInt(r.getValue().getJson().replaceAll(".*\"worker\": (\\d+).*", "$1")));
        }
      } finally {
        channel.shutdownNow();
      }
      assertEquals(WORKERS, workers.size(), "each worker should have grown one tree: " + workers);
      List<Procs.Proc> tree = Nodes.tree(node);
      // Per worker: shim, Python, multiprocessing child, subprocess, double-forked grandchild (and the resource
      // tracker multiprocessing may start).
      assertTrue(tree.size() >= WORKERS * 5, "expected at least " + WORKERS * 5 + " processes, found "
          + tree.size() + ": " + tree);
      long killed = System.nanoTime();
      Procs.kill(node.pid(), 9);
      List<Procs.Proc> alive = Procs.awaitGone(tree, Duration.ofSeconds(5));
      long elapsed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
      assertEquals(List.of(), alive, "still alive 5 s after kill -9 of the JVM");
      return elapsed;
    } finally {
      node.close();
    }
  }
}
