package example;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.Pool;
import io.snakepit.Result;
import io.snakepit.Snakepit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An application that embeds Snakepit in its own actor system and calls its own Python adapter.
 *
 * <p>{@code run N} makes N calls and stops; {@code hold N} makes them, prints "holding" and waits for stdin to close.
 */
public final class ConsumerApp {
  // Logging starts before any thread of the actor system logs (SLF4J would otherwise replay with a warning).
  private static final Logger log = LoggerFactory.getLogger(ConsumerApp.class);

  private ConsumerApp() {}

  /** The typed API's arguments and result: records mapped by Jackson to and from the tool's JSON. */
  record Line(int qty, int price) {}

  record Invoice(List<Line> lines) {}

  record Total(int total, int lines) {}

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    int calls = Integer.parseInt(args[1]);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "consumer");
    int status = 1;
    try {
      Snakepit snakepit = Snakepit.get(system);
      snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
      Pool invoices = snakepit.pool("invoices");
      int ok = 0;
      for (int i = 1; i <= calls; i++) {
        Result r = invoices.execute("total", "{\"lines\": [{\"qty\": 2, \"price\": " + i + "}, {\"qty\": 1, \"price\": 1}]}")
            .toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (r.json().replace(" ", "").contains("\"total\":" + (2 * i + 1))) {
          ok++;
        } else {
          log.error("call {} returned {}", i, r.json());
        }
      }
      Total typed = invoices.execute("total", new Invoice(List.of(new Line(3, 5), new Line(1, 7))), Total.class)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      System.out.println("typed: " + typed);
      System.out.println("calls: " + ok + " of " + calls + " ok");
      System.out.println("jackson-databind " + com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION);
      System.out.println("akka " + akka.Version.current());
      System.out.flush();
      if (mode.equals("hold")) {
        System.out.println("holding");
        System.out.flush();
        while (System.in.read() != -1) {
          // Until the test closes stdin (or kills this JVM).
        }
      }
      status = ok == calls ? 0 : 1;
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(status);
  }
}
