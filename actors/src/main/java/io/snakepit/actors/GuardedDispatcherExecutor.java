package io.snakepit.actors;

import akka.dispatch.DispatcherPrerequisites;
import akka.dispatch.ExecutorServiceConfigurator;
import akka.dispatch.ExecutorServiceFactory;
import akka.dispatch.ForkJoinExecutorConfigurator;
import akka.dispatch.Mailbox;
import com.typesafe.config.Config;
import java.util.concurrent.ThreadFactory;

/**
 * A dispatcher executor (Akka's fork-join executor, configured by the dispatcher's {@code fork-join-executor} block)
 * whose tasks pass an {@link OutOfMemoryError} to {@link OutOfMemory}, so that {@code snakepit.on-out-of-memory} also
 * decides for errors thrown in actors. Without it Akka handles them (akka.jvm-exit-on-fatal-error: it exits the JVM
 * with status 255, or stops the actor system). Used as {@code executor = "io.snakepit.actors.GuardedDispatcherExecutor"}
 * in a dispatcher's configuration; the {@code snakepit} command sets it for the default and internal dispatchers.
 */
public final class GuardedDispatcherExecutor extends ExecutorServiceConfigurator {
  private final ForkJoinExecutorConfigurator forkJoin;
  private final OutOfMemory handler;

  /** Called by Akka with the dispatcher's configuration block. */
  public GuardedDispatcherExecutor(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    this.forkJoin = new ForkJoinExecutorConfigurator(config.getConfig("fork-join-executor"), prerequisites);
    this.handler = OutOfMemory.fromConfig(prerequisites.settings().config());
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    ExecutorServiceFactory factory = forkJoin.createExecutorServiceFactory(id, threadFactory);
    return () -> OutOfMemory.guard(handler, factory.createExecutorService(), task -> describe(id, task));
  }

  private static String describe(String dispatcher, Runnable task) {
    if (task instanceof Mailbox mailbox) {
      try {
        return "running actor " + mailbox.actor().self().path();
      } catch (RuntimeException e) {
        // a mailbox without its actor yet: fall through to the dispatcher's name
      }
    }
    return "running a task of dispatcher " + dispatcher;
  }
}
