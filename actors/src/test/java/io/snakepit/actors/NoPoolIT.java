package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Snakepit;
import io.snakepit.testing.TestNodes;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A node configured with no pool (reference.conf defines none) starts, and a call names the pool and the fix. */
class NoPoolIT {

  @Test
  void aNodeWithoutPoolsStartsAndACallNamesTheMissingPoolAndTheFix() throws Exception {
    ActorTestKit kit = ActorTestKit.create("nopool", TestNodes.config("snakepit.pools.default = null"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      snakepit.ready().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(Map.of(), snakepit.pools());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> snakepit.execute("echo", "{}"));
      assertTrue(e.getMessage().startsWith("no pool named 'default' is configured; no pool is. Configure it under"
          + " snakepit.pools, e.g. in application.conf: snakepit.pools.default { workers = 2, adapter = "),
          e.getMessage());
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void anUnknownPoolIsNamedWithTheConfiguredOnes() throws Exception {
    ActorTestKit kit = ActorTestKit.create("otherpool",
        TestNodes.config("snakepit.pools { default = null, alpha { workers = 1 } }"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> snakepit.pool("beta"));
      assertTrue(e.getMessage().startsWith("no pool named 'beta' is configured; the pools are alpha. Configure it"
          + " under snakepit.pools, e.g. in application.conf: snakepit.pools.beta {"), e.getMessage());
    } finally {
      kit.shutdownTestKit();
    }
  }
}
