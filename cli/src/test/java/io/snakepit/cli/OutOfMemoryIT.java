package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import io.snakepit.testing.Procs;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * A node whose heap is too small for its results: real workers return 6 MB each, eight at a time, to a node with
 * {@code -Xmx48m}. By default it reports the OutOfMemoryError (thread, what it was doing, the error) and exits with
 * status 4, and its workers' shims take every tree down; with {@code on-out-of-memory = keep-running} it reports it
 * and serves on.
 */
class OutOfMemoryIT {
  private static final String HEAP = "-Xmx48m";
  private static final String BLOB = "{\"size\": 6000000}";
  private static final int IN_FLIGHT = 8;
  private static final Duration LOAD_LIMIT = Duration.ofSeconds(90);

  @Test
  void nodeOutOfMemoryReportsItAndExitsWithStatus4TakingEveryWorkerDown() throws Exception {
    try (Nodes.Node node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"), List.of(HEAP),
        "--workers", "4")) {
      List<Procs.Proc> tree = Nodes.tree(node);
      assertTrue(tree.size() >= 8, "expected 4 shims and 4 workers under the node, found " + tree);
      ManagedChannel channel = node.channel();
      try {
        load(channel, () -> !node.process.isAlive());
      } finally {
        channel.shutdownNow();
      }
      assertTrue(node.process.waitFor(60, TimeUnit.SECONDS), "the node did not end after running out of memory;"
          + " its stderr:\n" + String.join("\n", node.stderr()));
      String stderr = String.join("\n", node.stderr());
      assertEquals(4, node.process.exitValue(), "exit status; stderr:\n" + stderr);
      assertTrue(stderr.contains("java.lang.OutOfMemoryError"), stderr);
      assertTrue(stderr.matches("(?s).*out of memory in thread \\[[^]]+] while .+?: java.lang.OutOfMemoryError.*"),
          "the report names the thread and what it was doing: " + stderr);
      assertTrue(stderr.contains("exiting with status 4 (snakepit.on-out-of-memory = exit)"), stderr);
      List<Procs.Proc> left = Procs.awaitGone(tree, Duration.ofSeconds(10));
      assertTrue(left.isEmpty(), "processes of the node's tree still alive 10 s after it exited: " + left);
    }
  }

  @Test
  void withKeepRunningTheNodeReportsItAndServesOn() throws Exception {
    try (Nodes.Node node = Nodes.serveIn(Files.createTempDirectory("snakepit-data"),
        List.of(HEAP, "-Dsnakepit.on-out-of-memory=keep-running"), "--workers", "4")) {
      ManagedChannel channel = node.channel();
      try {
        load(channel, () -> reported(node));
        String stderr = String.join("\n", node.stderr());
        assertTrue(reported(node), "no out-of-memory report within " + LOAD_LIMIT.toSeconds() + " s: " + stderr);
        assertTrue(stderr.contains("running on (snakepit.on-out-of-memory = keep-running)"), stderr);
        assertTrue(node.process.isAlive(), "the node ended: " + stderr);
        // Served after the error: a call that needs a worker.
        ExecuteResponse echo = echoWithin(channel, Duration.ofSeconds(60));
        assertTrue(echo.hasValue(), "after the out-of-memory error: " + echo + "\n" + stderr);
        assertTrue(node.process.isAlive(), "the node ended: " + String.join("\n", node.stderr()));
      } finally {
        channel.shutdownNow();
      }
    }
  }

  private static boolean reported(Nodes.Node node) {
    try {
      return node.stderr().stream().anyMatch(l -> l.contains("out of memory in thread ["));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Keeps {@link #IN_FLIGHT} large calls going until {@code done} or {@link #LOAD_LIMIT}, then waits for them. */
  private static void load(ManagedChannel channel, BooleanSupplier done) throws InterruptedException {
    GatewayGrpc.GatewayStub stub = GatewayGrpc.newStub(channel);
    Semaphore slots = new Semaphore(IN_FLIGHT);
    long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      if (!slots.tryAcquire(1, TimeUnit.SECONDS)) {
        continue;
      }
      stub.withDeadlineAfter(30, TimeUnit.SECONDS).execute(
          ExecuteRequest.newBuilder().setTool("blob").setArgsJson(BLOB).build(), new StreamObserver<>() {
            @Override
            public void onNext(ExecuteResponse value) {}

            @Override
            public void onError(Throwable t) {
              slots.release();
            }

            @Override
            public void onCompleted() {
              slots.release();
            }
          });
    }
    // Every call ends by its deadline at the latest.
    slots.tryAcquire(IN_FLIGHT, 40, TimeUnit.SECONDS);
  }

  /** An echo call through the gateway, retried for up to {@code within} while calls fail. */
  private static ExecuteResponse echoWithin(ManagedChannel channel, Duration within) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    ExecuteResponse last = null;
    while (System.nanoTime() < deadline) {
      try {
        last = GatewayGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
            .execute(ExecuteRequest.newBuilder().setTool("echo").setArgsJson("{\"after\": \"oom\"}").build());
        if (last.hasValue()) {
          return last;
        }
      } catch (io.grpc.StatusRuntimeException e) {
        last = ExecuteResponse.getDefaultInstance();
      }
      Thread.sleep(500);
    }
    return last == null ? ExecuteResponse.getDefaultInstance() : last;
  }
}
