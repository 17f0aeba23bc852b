package io.snakepit.bench;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import java.util.concurrent.TimeUnit;

/**
 * A node in a JVM of its own, for benchmarks that kill the JVM:
 * {@code java -cp <the suite's jar> io.snakepit.bench.NodeMain CONFIG [POOL TOOL TIMES]}.
 *
 * <p>CONFIG is the whole node configuration as HOCON (reference.conf fills in the rest). Once every pool is ready it
 * calls TOOL on pool POOL TIMES times, one call after another, printing {@code called <result>} for each; then it
 * prints {@code ready <pid>} and runs until it is killed. It prints {@code settled} before its pools start.
 */
public final class NodeMain {

  private NodeMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1 && args.length != 4) {
      System.err.println("usage: NodeMain CONFIG [POOL TOOL TIMES]");
      System.exit(2);
    }
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "node",
        ConfigFactory.load(ConfigFactory.parseString(args[0])));
    try {
      serve(system, args);
    } catch (Exception e) {
      // The actor system's threads would keep the JVM up: end it, so that the parent sees the failure at once.
      e.printStackTrace();
      System.exit(1);
    }
    system.getWhenTerminated().toCompletableFuture().get();
  }

  private static void serve(ActorSystem<Void> system, String[] args) throws Exception {
    Snakepit snakepit = Snakepit.get(system);
    snakepit.settlement().toCompletableFuture().get(5, TimeUnit.MINUTES);
    System.out.println("settled");
    System.out.flush();
    snakepit.ready().toCompletableFuture().get(30, TimeUnit.MINUTES);
    if (args.length == 4) {
      Pool pool = snakepit.pool(args[1]);
      // One after another: a pool hands each call to the idle worker that waited longest, so TIMES calls on a pool
      // of TIMES workers reach every worker once.
      for (int i = 0; i < Integer.parseInt(args[3]); i++) {
        System.out.println("called " + pool.execute(args[2], "{}").toCompletableFuture().get(60, TimeUnit.SECONDS)
            .json());
      }
    }
    System.out.println("ready " + ProcessHandle.current().pid());
    System.out.flush();
  }
}
