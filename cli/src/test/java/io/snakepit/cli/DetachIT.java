package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.proto.StatusRequest;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A planned restart (docs/ADOPTION.md): {@code snakepit detach} (SIGUSR2) leaves every worker's tree running after
 * the node exits, for the adoption window only; a node killed before it let its workers go takes them down at once;
 * the next node settles what still waits. What is alive is read from /proc.
 */
class DetachIT {

  /** The node's shims and their workers (not the JVM), once both workers are ready. */
  private static List<Procs.Proc> trees(Nodes.Node node) {
    List<Procs.Proc> tree = Nodes.tree(node);
    assertTrue(tree.size() >= 4, "expected two shims and two workers: " + tree);
    return tree;
  }

  private static Nodes.Run detach(Path data) throws Exception {
    return Nodes.snakepit("detach", "--data-dir", data.toString(), "--instance", TestNodes.INSTANCE);
  }

  @Test
  void detachWithNobodyAttachingLeavesEveryTreeAliveUntilTheWindowEnds() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "5s");
    try {
      List<Procs.Proc> trees = trees(node);
      Nodes.Run run = detach(data);
      assertEquals(0, run.exit(), run.out() + "\n" + run.err());
      assertTrue(run.out().contains("detached: node pid " + node.pid() + " exited"), run.out());
      assertTrue(node.process.waitFor(10, TimeUnit.SECONDS), "the node exited");
      assertEquals(0, node.process.exitValue(), String.join("\n", node.stderr()));
      assertEquals(List.of(), trees.stream().filter(p -> !p.alive()).toList(),
          "every tree outlives its node right after a detach");
      assertEquals(List.of(), Procs.awaitGone(trees, Duration.ofSeconds(20)), "the 5 s window ended");
    } finally {
      node.close();
    }
  }

  @Test
  void aRestartWithFewerWorkersAdoptsTheSlotsItKeepsAndSettlesTheRest() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "120s");
    Nodes.Node next = null;
    try {
      List<Procs.Proc> trees = trees(node);
      List<Procs.Proc> workers = trees.stream().filter(p -> Procs.cmdline(p.pid()).contains("--adapter")
          && !Procs.cmdline(p.pid()).contains("--grace-ms")).toList(); // the Pythons, not their shims
      assertEquals(2, workers.size(), "" + trees);
      Nodes.Run run = detach(data);
      assertEquals(0, run.exit(), run.out() + "\n" + run.err());
      assertTrue(node.process.waitFor(30, TimeUnit.SECONDS), "the node exited");
      assertEquals(List.of(), trees.stream().filter(p -> !p.alive()).toList(), "waiting for the next node");
      next = Nodes.serveIn(data, "--workers", "1");
      assertTrue(next.readyLine.contains(", adopted 1, "), next.readyLine);
      assertTrue(next.settledLine != null && next.settledLine.contains(" 1 killed"), "" + next.settledLine);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (workers.stream().filter(Procs.Proc::alive).count() > 1 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertEquals(1, workers.stream().filter(Procs.Proc::alive).count(),
          "slot 0's worker is adopted, slot 1's settled well before the 120 s window: " + workers);
      next.process.destroy();
      assertTrue(next.process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
      assertEquals(List.of(), Procs.awaitGone(trees, Duration.ofSeconds(10)), "the adopted one stops with it");
    } finally {
      node.close();
      if (next != null) {
        next.close();
      }
    }
  }

  @Test
  void killingTheNodeAfterADetachRequestButBeforeItExitsTakesEveryTreeDownAtOnce() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    // A long stop grace: the call below keeps the detach draining, before any shim is told to wait.
    Nodes.Node node = Nodes.serveIn(data, List.of("-Dsnakepit.pool-defaults.stop-grace=60s"), "--workers", "2",
        "--adopt-window", "120s");
    ManagedChannel channel = node.channel();
    try {
      List<Procs.Proc> trees = trees(node);
      GatewayGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).execute(ExecuteRequest.newBuilder()
          .setTool("sleep").setArgsJson("{\"seconds\": 30}").build(), new StreamObserver<ExecuteResponse>() {
            @Override
            public void onNext(ExecuteResponse value) {}

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      awaitBusy(channel); // the call is running in a worker
      Procs.kill(node.pid(), 12); // SIGUSR2: what snakepit detach sends
      awaitRefusal(channel); // the node has begun the detach: it takes no new calls
      assertTrue(node.process.isAlive(), "still draining its call");
      Thread.sleep(1000); // time enough for the idle worker to be prepared: it must not be let go before the other
      long killed = System.nanoTime();
      Procs.kill(node.pid(), 9);
      assertEquals(List.of(), Procs.awaitGone(trees, Duration.ofSeconds(5)), "kill -9 before the node let go");
      assertTrue(System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(5));
    } finally {
      channel.shutdownNow();
      node.close();
    }
  }

  @Test
  void aDetachAskedWhileTheNodeStartsIsDoneOnceItIsReady() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    // While its workers sleep 2 s in setup(), the node is not ready: SIGUSR2 then must neither kill it nor be lost.
    AtomicReference<List<Procs.Proc>> atSignal = new AtomicReference<>(List.of());
    Thread signaller = new Thread(() -> {
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
          for (ProcessHandle node : ProcessHandle.current().children().toList()) {
            String cmd = Procs.cmdline((int) node.pid());
            if (cmd.contains(" serve ") && cmd.contains(data.toString())
                && Procs.descendants((int) node.pid()).size() >= 4) { // two shims, two Pythons in setup()
              atSignal.set(Procs.descendants((int) node.pid()));
              Procs.kill((int) node.pid(), 12);
              return;
            }
          }
          Thread.sleep(20);
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, "signaller");
    signaller.start();
    Nodes.Node node = Nodes.serveIn(data, "--workers", "2", "--adopt-window", "5s",
        "--adapter", "snakepit_worker.examples.slow_start:SlowStartAdapter");
    try {
      signaller.join(10_000);
      List<Procs.Proc> trees = atSignal.get(); // the node may be on its way out already: its tree as signalled
      assertTrue(trees.size() >= 4, "the node was signalled while it started: " + trees);
      assertTrue(node.process.waitFor(60, TimeUnit.SECONDS), "the node detached and exited once ready");
      assertEquals(0, node.process.exitValue(), String.join("\n", node.stderr()));
      assertEquals(List.of(), trees.stream().filter(p -> !p.alive()).toList(), "left running for the window");
      assertEquals(List.of(), Procs.awaitGone(trees, Duration.ofSeconds(20)), "the 5 s window ended");
    } finally {
      node.close();
    }
  }

  @Test
  void detachWithoutANodeSaysSoAndSignalsNothing() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    Nodes.Run run = detach(data);
    assertEquals(3, run.exit(), run.out() + "\n" + run.err());
    assertTrue(run.err().contains("no node of instance '" + TestNodes.INSTANCE + "'"), run.err());
    // A lock file naming a live process that does not hold the lock (this test's JVM): nothing is signalled.
    Files.writeString(data.resolve(TestNodes.INSTANCE + ".lock"), ProcessHandle.current().pid() + "\n");
    Nodes.Run stale = detach(data);
    assertEquals(3, stale.exit(), stale.out() + "\n" + stale.err());
    assertTrue(stale.err().contains("does not hold that lock; nothing was signalled"), stale.err());
    assertFalse(stale.out().contains("detaching"), stale.out());
  }

  /**
   * A process that holds the instance lock but is no serve (as an application embedding Snakepit would): neither
   * detach nor serve --take-over sends it SIGUSR2, which would end a process that does not take it.
   */
  @Test
  void aLockHolderThatIsNoServeIsNeverSignalled() throws Exception {
    Path data = Files.createTempDirectory("snakepit-detach");
    Path lock = data.resolve(TestNodes.INSTANCE + ".lock");
    Process holder = new ProcessBuilder(TestNodes.python(), "-c", """
        import fcntl, os, sys, time
        f = open(sys.argv[1], "a+")
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.truncate(0); f.write("%d\\n" % os.getpid()); f.flush()
        print("up", flush=True)
        time.sleep(600)
        """, lock.toString()).start();
    try {
      assertEquals('u', (char) holder.getInputStream().read(), "the lock holder did not start");
      Nodes.Run run = detach(data);
      assertEquals(1, run.exit(), run.out() + "\n" + run.err());
      assertTrue(run.err().contains("(pid " + holder.pid() + ") is not a snakepit serve that takes a planned restart"),
          run.err());
      assertFalse(run.out().contains("detaching"), run.out());
      Nodes.Run takeOver = Nodes.snakepit("serve", "--take-over", "--data-dir", data.toString(), "--instance",
          TestNodes.INSTANCE, "--listen", "127.0.0.1:" + Nodes.freePort(), "--http", "off");
      assertEquals(1, takeOver.exit(), takeOver.out() + "\n" + takeOver.err());
      assertTrue(takeOver.err().contains("--take-over: the node of instance '" + TestNodes.INSTANCE + "' (pid "
          + holder.pid() + ") is not a snakepit serve"), takeOver.err());
      assertTrue(holder.isAlive(), () -> "the lock holder was signalled: it ended with " + holder.exitValue());
    } finally {
      holder.destroyForcibly();
      holder.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Waits until the node's status shows a worker running a call. */
  private static void awaitBusy(ManagedChannel channel) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String json = GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance()).getJson();
      if (json.contains("\"state\":\"busy\"")) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no worker was busy with the call within 30 s");
  }

  /** Waits until a new call is refused: the gateway stopped taking calls. */
  private static void awaitRefusal(ManagedChannel channel) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      try {
        GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS).execute(ExecuteRequest
            .newBuilder().setTool("ping").setArgsJson("{}").build());
      } catch (StatusRuntimeException e) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("the node still took calls 10 s after SIGUSR2");
  }
}
