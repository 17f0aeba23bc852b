package io.snakepit.testing;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A node in the test's JVM for one test class, registered with {@code @RegisterExtension static final}: it starts
 * before the class's tests (with {@code overrides} over {@link TestNodes#config}) and is ready when they run, and it
 * shuts down after them, whether or not it got ready.
 */
public final class TestNode implements BeforeAllCallback, AfterAllCallback {
  private final String name;
  private final String overrides;
  private final Duration readyWithin;
  private ActorTestKit kit;
  private Snakepit snakepit;

  private TestNode(String name, String overrides, Duration readyWithin) {
    this.name = name;
    this.overrides = overrides;
    this.readyWithin = readyWithin;
  }

  /** A node named {@code name} (its actor system's name) whose pools are ready within {@code readyWithin}. */
  public static TestNode of(String name, String overrides, Duration readyWithin) {
    return new TestNode(name, overrides, readyWithin);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    kit = ActorTestKit.create(name, TestNodes.config(overrides));
    snakepit = Snakepit.get(kit.system());
    snakepit.ready().toCompletableFuture().get(readyWithin.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    // JUnit calls this even when beforeAll failed: a node that did not get ready is shut down too.
    if (kit != null) {
      kit.shutdownTestKit();
    }
  }

  /** The node's test kit (its actor system). */
  public ActorTestKit kit() {
    return kit;
  }

  /** The node's Snakepit. */
  public Snakepit snakepit() {
    return snakepit;
  }

  /** The node's pool {@code name}. */
  public Pool pool(String name) {
    return snakepit.pool(name);
  }
}
