package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.snakepit.actors.worker.WorkerSettings.Output;
import io.snakepit.actors.worker.WorkerSettings.Output.Mode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** A worker's output, as the thread reading its shim hands it over: cut, escaped, limited, and sent where asked. */
class WorkerOutputTest {
  private static final AtomicInteger POOLS = new AtomicInteger();

  @TempDir
  Path runDir;
  private final String pool = "unit" + POOLS.incrementAndGet();
  /** The ticks the output asked for, not yet run. */
  private final List<Runnable> ticksAsked = new java.util.ArrayList<>();
  /** The counts handed on for the worker's OutputDropped events. */
  private final List<Long> droppedReports = new java.util.ArrayList<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger(WorkerOutput.LOGGER_PREFIX + pool);
  /** Takes each event's MDC when it is logged, as an asynchronous appender would. */
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>() {
    @Override
    protected void append(ILoggingEvent event) {
      event.prepareForDeferredProcessing();
      super.append(event);
    }
  };

  {
    logged.start();
    logger.addAppender(logged);
    logger.setLevel(Level.INFO);
    logger.setAdditive(false);
  }

  @AfterEach
  void detach() {
    logger.detachAppender(logged);
  }

  private static Output settings(Mode mode, double rate, int burst) {
    return new Output(mode, 8192, rate, burst, Duration.ofSeconds(5), "", 10 * 1024 * 1024, 2, "INFO");
  }

  private WorkerOutput output(Output settings) {
    return new WorkerOutput("w-0-1", pool, settings, 40, runDir, ticksAsked::add, droppedReports::add);
  }

  private static void line(WorkerOutput out, boolean stderr, String text) {
    byte[] bytes = ("OUT " + text).getBytes(StandardCharsets.UTF_8);
    out.line(stderr, bytes, 4, bytes.length, false);
  }

  private List<String> messages() {
    return logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void aTenMebibyteLineWithoutNewlineIsOneCutLineAndHoldsNoMoreThanTheLimit() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 1000));
    byte[] piece = new byte[8192];
    java.util.Arrays.fill(piece, (byte) 'a');
    int pieces = 10 * 1024 * 1024 / 8192;
    int held = 0;
    for (int i = 0; i < pieces - 1; i++) {
      out.line(false, piece, 0, piece.length, true);
      held = Math.max(held, out.heldBytes());
    }
    out.line(false, piece, 0, piece.length, false); // the shim relays the rest when the pipe closes
    assertEquals(1, logged.list.size(), messages().toString());
    String message = messages().get(0);
    assertEquals("[w-0-1 stdout] " + "a".repeat(8192) + " [... " + (10 * 1024 * 1024 - 8192) + " more bytes cut]",
        message);
    assertTrue(held <= 2 * 8192, "held " + held + " bytes");
  }

  @Test
  void linesCarryTheWorkerAndItsPidInTheMdcBothStreamsAtInfo() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 1000));
    out.pid(4242);
    line(out, false, "hello");
    line(out, true, "oops");
    assertEquals(List.of("[w-0-1 stdout] hello", "[w-0-1 stderr] oops"), messages());
    ILoggingEvent first = logged.list.get(0);
    assertEquals(Level.INFO, first.getLevel());
    assertEquals(Level.INFO, logged.list.get(1).getLevel());
    assertEquals("w-0-1", first.getMDCPropertyMap().get(WorkerOutput.MDC_WORKER));
    assertEquals("4242", first.getMDCPropertyMap().get(WorkerOutput.MDC_PID));
    assertEquals(WorkerOutput.LOGGER_PREFIX + pool, first.getLoggerName());
    assertEquals(null, org.slf4j.MDC.get(WorkerOutput.MDC_WORKER), "the reading thread's MDC is left clean");
  }

  @Test
  void aForwardedPythonRecordIsLoggedAtItsLevelUnderThePythonLoggerWithTheCallInTheMdc() {
    Logger python = (Logger) LoggerFactory.getLogger(WorkerOutput.PYTHON_LOGGER_PREFIX + pool);
    python.addAppender(logged);
    python.setAdditive(false);
    try {
      WorkerOutput out = output(settings(Mode.LOG, 200, 1000));
      out.pid(4242);
      line(out, true, PythonLogRecord.MARK + "{\"level\": \"WARNING\", \"logger\": \"model\", \"message\": "
          + "\"slow \\u00e9\", \"call\": \"c7\", \"exception\": \"Traceback (most recent call last):\\nKeyError\"}");
      line(out, true, PythonLogRecord.MARK + "{not json");
      assertEquals(List.of("[w-0-1 model] slow é\nTraceback (most recent call last):\nKeyError",
          "[w-0-1 stderr] \\x1esnakepit-log {not json"), messages());
      ILoggingEvent record = logged.list.get(0);
      assertEquals(Level.WARN, record.getLevel());
      assertEquals(WorkerOutput.PYTHON_LOGGER_PREFIX + pool, record.getLoggerName());
      assertEquals(java.util.Map.of(WorkerOutput.MDC_POOL, pool, WorkerOutput.MDC_WORKER, "w-0-1",
          WorkerOutput.MDC_PID, "4242", WorkerOutput.MDC_CALL, "c7"), record.getMDCPropertyMap());
      assertEquals(null, org.slf4j.MDC.get(WorkerOutput.MDC_CALL), "the reading thread's MDC is left clean");
      assertEquals(List.of("WARNING model: slow é", "Traceback (most recent call last):", "KeyError",
          "\\x1esnakepit-log {not json"), out.stderrTail().lines(), "the tail shows the record as text");
    } finally {
      python.detachAppender(logged);
    }
  }

  @Test
  void bytesThatAreNotUtf8AreEscapedInTheLog() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 1000));
    byte[] bytes = {'b', 'i', 'n', ' ', (byte) 0xff, (byte) 0xfe, 0, '!'};
    out.line(false, bytes, 0, bytes.length, false);
    assertEquals(List.of("[w-0-1 stdout] bin \\xff\\xfe\\x00!"), messages());
  }

  @Test
  void pastTheRateLinesAreDroppedCountedAndReportedOnce() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 10));
    for (int i = 0; i < 1000; i++) {
      line(out, i % 2 == 0, "line " + i);
    }
    out.close();
    List<String> messages = messages();
    // a second of test time could refill a few more tokens: at least the burst, far fewer than all
    assertTrue(messages.size() >= 11 && messages.size() < 300, messages.size() + " lines");
    String report = messages.get(messages.size() - 1);
    assertEquals("dropped " + (1000 - (messages.size() - 1)) + " lines of output from worker w-0-1", report);
    assertEquals(1, messages.stream().filter(m -> m.startsWith("dropped ")).count());
    assertEquals(List.of((long) (1000 - (messages.size() - 1))), droppedReports, "the same count, for the event");
  }

  @Test
  void aTickIsAskedForOnlyWhileWorkIsDueSoAnIdleWorkerCostsNoTimer() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 2));
    line(out, false, "one");
    line(out, false, "two");
    assertEquals(0, ticksAsked.size(), "nothing dropped, nothing to report");
    for (int i = 0; i < 10; i++) {
      line(out, false, "more " + i);
    }
    assertEquals(1, ticksAsked.size(), "one tick asked for, however many lines are dropped");
    ticksAsked.remove(0).run();
    assertEquals(1, ticksAsked.size(), "the drops are not reported before their interval: asked again");
    out.close();
    ticksAsked.remove(0).run();
    assertEquals(0, ticksAsked.size(), "a closed output asks for nothing more");
  }

  @Test
  void theStderrTailKeepsTheLinesTheRateDroppedFromTheLog() {
    WorkerOutput out = output(settings(Mode.LOG, 200, 5));
    for (int i = 0; i < 100; i++) {
      line(out, true, "err " + i);
    }
    List<String> tail = out.stderrTail().lines();
    assertEquals(40, tail.size());
    assertEquals("err 60", tail.get(0));
    assertEquals("err 99", tail.get(39));
  }

  @Test
  void discardLogsNothingButKeepsTheStderrTail() {
    WorkerOutput out = output(settings(Mode.DISCARD, 200, 1000));
    line(out, false, "to nobody");
    line(out, true, "Traceback: boom");
    out.close();
    assertEquals(List.of(), messages());
    assertEquals(List.of("Traceback: boom"), out.stderrTail().lines());
  }

  @Test
  void fileModeWritesEveryLineWithItsStreamToTheWorkersFileInTheRunDirectory() throws Exception {
    WorkerOutput out = output(settings(Mode.FILE, 200, 1));
    for (int i = 0; i < 500; i++) {
      line(out, i % 2 == 1, "n" + i);
    }
    out.close();
    List<String> lines = Files.readAllLines(runDir.resolve("output").resolve("w-0-1.log"));
    assertEquals(500, lines.size(), "no rate limit in file mode");
    assertTrue(lines.get(0).endsWith(" out n0") && lines.get(1).endsWith(" err n1"), lines.get(0));
    assertEquals(List.of(), messages());
  }
}
