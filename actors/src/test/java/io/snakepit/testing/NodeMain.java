package io.snakepit.testing;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.Snakepit;
import io.snakepit.actors.Node;
import io.snakepit.persistence.SettlementReport;
import java.util.concurrent.TimeUnit;

/**
 * A node in a JVM of its own, for tests that kill the JVM. Arguments: HOCON overrides, then optionally a tool to
 * call and how many times. Prints the settlement's rows, each call's result, then {@code ready PID}; runs until
 * killed. A start that fails prints {@code failed REASON} and exits with status 1: the actor system's threads would
 * otherwise keep the JVM alive, and a test would wait on it.
 */
public final class NodeMain {

  public static void main(String[] args) throws Exception {
    // A test run that is aborted (its JVM killed) must not leave this node and its workers running: when the JVM
    // that started it is gone, it ends as a kill -9 would, and its workers go by their shims' lifeline.
    ProcessHandle.current().parent()
        .ifPresent(parent -> parent.onExit().thenRun(() -> Runtime.getRuntime().halt(137)));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "node",
        TestNodes.config(args.length > 0 ? args[0] : ""));
    try {
      start(system, args);
    } catch (Throwable e) {
      System.out.println("failed " + e);
      System.out.flush();
      e.printStackTrace();
      system.terminate();
      try {
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } finally {
        System.exit(1);
      }
    }
    system.getWhenTerminated().toCompletableFuture().get();
    System.exit(0);
  }

  private static void start(ActorSystem<Void> system, String[] args) throws Exception {
    Snakepit snakepit = Snakepit.get(system);
    SettlementReport report = Node.get(system).settlement().toCompletableFuture().get(60, TimeUnit.SECONDS);
    if (report != null) {
      for (SettlementReport.Row row : report.rows()) {
        System.out.println("settled " + row.entry().nonce() + " "
            + (row.entry().spawned() == null ? "-" : row.entry().spawned().identity().pid()) + " " + row.how() + " "
            + row.processes().size());
      }
      System.out.println("summary " + report.summary());
    }
    snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
    int times = args.length > 2 ? Integer.parseInt(args[2]) : 0;
    for (int i = 0; i < times; i++) {
      System.out.println("result " + snakepit.execute(args[1], "{}").toCompletableFuture().get(30, TimeUnit.SECONDS)
          .json());
    }
    System.out.println("ready " + ProcessHandle.current().pid());
    System.out.flush();
  }
}
