package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The out-of-memory handler: what it reports, when it halts, and what it leaves alone. */
class OutOfMemoryTest {
  private final List<String> reports = new CopyOnWriteArrayList<>();
  private final List<Integer> halts = new CopyOnWriteArrayList<>();

  private OutOfMemory handler(OutOfMemory.Action action) {
    return new OutOfMemory(action, reports::add, halts::add, new AtomicBoolean());
  }

  @Test
  void exitReportsThreadActivityAndCauseThenHaltsWithStatus4() {
    OutOfMemoryError oom = new OutOfMemoryError("Java heap space");
    RuntimeException wrapper = Status.CANCELLED.withDescription("Failed to read message.").withCause(oom)
        .asRuntimeException();

    assertTrue(handler(OutOfMemory.Action.EXIT).handle(wrapper, "reading a reply"));

    assertEquals(List.of(OutOfMemory.EXIT_STATUS), halts);
    assertEquals(4, OutOfMemory.EXIT_STATUS);
    String report = reports.get(0);
    assertTrue(report.startsWith("out of memory in thread [" + Thread.currentThread().getName()
        + "] while reading a reply: java.lang.OutOfMemoryError: Java heap space (the cause of "
        + "io.grpc.StatusRuntimeException); exiting with status 4 (snakepit.on-out-of-memory = exit)"), report);
    assertTrue(report.contains("CANCELLED: Failed to read message."), "the whole chain is reported: " + report);
    assertTrue(report.contains("Caused by: java.lang.OutOfMemoryError: Java heap space"), report);
  }

  @Test
  void keepRunningReportsWithoutHalting() {
    assertTrue(handler(OutOfMemory.Action.KEEP_RUNNING).handle(new OutOfMemoryError("Direct buffer memory"),
        "sending a result"));

    assertEquals(List.of(), halts);
    assertTrue(reports.get(0).contains("while sending a result: java.lang.OutOfMemoryError: Direct buffer memory;"
        + " running on (snakepit.on-out-of-memory = keep-running)"), reports.get(0));
  }

  @Test
  void otherErrorsAreLeftAlone() {
    OutOfMemory handler = handler(OutOfMemory.Action.EXIT);

    assertFalse(handler.handle(new IllegalStateException("call is closed"), "sending"));
    assertFalse(handler.handle(new StackOverflowError(), "recursing"));

    assertEquals(List.of(), reports);
    assertEquals(List.of(), halts);
  }

  @Test
  void onlyTheFirstOfHandlersSharingAJvmReportsAndHalts() {
    AtomicBoolean jvm = new AtomicBoolean();
    OutOfMemory grpc = new OutOfMemory(OutOfMemory.Action.EXIT, reports::add, halts::add, jvm);
    OutOfMemory actors = new OutOfMemory(OutOfMemory.Action.EXIT, reports::add, halts::add, jvm);

    assertTrue(grpc.handle(new OutOfMemoryError("first"), "a"));
    assertTrue(actors.handle(new OutOfMemoryError("second"), "b"));

    assertEquals(1, reports.size(), reports.toString());
    assertEquals(List.of(4), halts);
  }

  @Test
  void guardedExecutorKeepsItsThreadAfterAnOutOfMemoryErrorWhenKeepRunning() throws Exception {
    AtomicReference<Thread> first = new AtomicReference<>();
    ExecutorService pool = handler(OutOfMemory.Action.KEEP_RUNNING)
        .guard(Executors.newSingleThreadExecutor(), "running a callback");
    try {
      pool.execute(() -> {
        first.set(Thread.currentThread());
        throw new OutOfMemoryError("Java heap space");
      });
      Thread second = pool.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
      assertSame(first.get(), second, "the thread survived the error");
      assertTrue(reports.get(0).contains("while running a callback: java.lang.OutOfMemoryError"), reports.get(0));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void guardRethrowsWhatIsNotOutOfMemory() {
    Runnable guarded = handler(OutOfMemory.Action.EXIT).guard(() -> {
      throw new IllegalArgumentException("bad");
    }, () -> "x");

    assertThrows(IllegalArgumentException.class, guarded::run);
    assertEquals(List.of(), halts);
  }

  @Test
  void uncaughtHandlerPassesOtherErrorsOn() throws Exception {
    AtomicReference<Throwable> passed = new AtomicReference<>();
    Thread.UncaughtExceptionHandler h = handler(OutOfMemory.Action.EXIT)
        .uncaughtHandler((thread, error) -> passed.set(error));
    IllegalStateException other = new IllegalStateException("boom");

    h.uncaughtException(Thread.currentThread(), other);
    h.uncaughtException(Thread.currentThread(), new OutOfMemoryError("Metaspace"));

    assertSame(other, passed.get());
    assertEquals(List.of(4), halts);
    assertTrue(reports.get(0).contains("(the error was not caught): java.lang.OutOfMemoryError: Metaspace"),
        reports.get(0));
  }

  @Test
  void theSettingTakesExitOrKeepRunningAndNamesBothOtherwise() {
    assertEquals(OutOfMemory.Action.EXIT, OutOfMemory.Action.parse("exit"));
    assertEquals(OutOfMemory.Action.KEEP_RUNNING, OutOfMemory.Action.parse("keep-running"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutOfMemory.Action.parse("ignore"));
    assertEquals("snakepit.on-out-of-memory = \"ignore\" is not a choice: set it to exit (report, then halt the JVM"
        + " with status 4) or keep-running (report, go on)", e.getMessage());
    assertEquals(OutOfMemory.Action.EXIT, OutOfMemory.fromConfig(com.typesafe.config.ConfigFactory.load()).action(),
        "the default");
  }
}
