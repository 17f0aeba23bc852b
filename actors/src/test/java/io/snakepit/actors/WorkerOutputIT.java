package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.snakepit.Affinity;
import io.snakepit.Pool;
import io.snakepit.WorkerCrashedException;
import io.snakepit.testing.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * Workers that write a lot, or oddly: their output reaches the node's log cut, escaped and rate-limited, under a logger
 * of their pool with their name and pid in the MDC, or a rotating file, or nothing; and a flood neither blocks the
 * worker nor slows the pool's calls.
 */
class WorkerOutputIT {
  private static final Path FILES = tempDir();
  private static final String CHATTY = "snakepit_worker.examples.chatty:ChattyAdapter";

  @RegisterExtension
  static final TestNode NODE = TestNode.of("output", """
      snakepit.pools {
        default { workers = 2, adapter = "%1$s" }
        long { workers = 1, adapter = "%1$s" }
        quiet { workers = 1, adapter = "%1$s", output = discard }
        files {
          workers = 1, adapter = "%1$s", output = file
          output-file { dir = "%2$s", max-size = 64KiB, keep = 1 }
        }
      }
      """.formatted(CHATTY, FILES), Duration.ofSeconds(60));

  private static final NodeLog LOG = new NodeLog();

  @BeforeAll
  static void attach() {
    LOG.attach();
  }

  @BeforeEach
  void forget() {
    LOG.forget();
  }

  @AfterAll
  static void detach() {
    LOG.detach();
  }

  private static Path tempDir() {
    try {
      return Files.createTempDirectory("snakepit-output-it");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void outputLinesGoToThePoolsLoggerWithTheWorkerAndItsPidInTheMdc() throws Exception {
    Pool pool = NODE.pool("default");
    int pid = Integer.parseInt(await(pool.execute("say", "{\"text\": \"mdc-probe\"}")).json());
    ILoggingEvent event = LOG.await(e -> e.getFormattedMessage().endsWith("stdout] mdc-probe"));
    assertEquals("snakepit.worker.default", event.getLoggerName());
    Map<String, String> mdc = event.getMDCPropertyMap();
    assertEquals(Integer.toString(pid), mdc.get("snakepit.pid"));
    assertTrue(mdc.get("snakepit.worker").matches("default-\\d+-\\d+"), mdc.toString());
    assertTrue(event.getFormattedMessage().startsWith("[" + mdc.get("snakepit.worker") + " stdout]"));
  }

  @Test
  void pythonLogRecordsReachThePythonLoggerAtTheirLevelWithTheCallAndTheTraceback() throws Exception {
    Pool pool = NODE.pool("default");
    String answer = await(pool.execute("log", "{\"message\": \"record-probe\", \"error\": true}")).json();
    Matcher m = Pattern.compile("\\{\"pid\": (\\d+), \"call\": \"(c\\d+)\"}").matcher(answer);
    assertTrue(m.matches(), answer);
    ILoggingEvent event = LOG.await(e -> e.getFormattedMessage().contains("record-probe"));
    assertEquals("snakepit.python.default", event.getLoggerName());
    assertEquals(ch.qos.logback.classic.Level.WARN, event.getLevel());
    Map<String, String> mdc = event.getMDCPropertyMap();
    assertEquals(List.of("default", m.group(1), m.group(2)),
        List.of(mdc.get("snakepit.pool"), mdc.get("snakepit.pid"), mdc.get("snakepit.call")), mdc.toString());
    String text = event.getFormattedMessage();
    assertTrue(text.startsWith("[" + mdc.get("snakepit.worker") + " chatty] record-probe\nTraceback"), text);
    assertTrue(text.contains("ValueError: logged on purpose"), text);
    // Below python-logs (INFO) nothing is forwarded; nothing of the record went out as a raw stderr line.
    await(pool.execute("log", "{\"message\": \"debug-probe\", \"level\": \"DEBUG\"}"));
    await(pool.execute("say", "{\"text\": \"after-debug\", \"stream\": \"stderr\"}"));
    LOG.await(e -> e.getFormattedMessage().endsWith("stderr] after-debug"));
    assertEquals(0, LOG.count(e -> e.getFormattedMessage().contains("debug-probe")
        || e.getFormattedMessage().contains("snakepit-log")));
  }

  @Test
  void linesPastTheRateAreDroppedAndReportedAsOneLine() throws Exception {
    Pool pool = NODE.pool("default");
    await(pool.execute("say", "{\"text\": \"rate-probe\", \"stream\": \"stderr\", \"count\": 5000}"));
    ILoggingEvent report = LOG.await(e -> e.getFormattedMessage().startsWith("dropped "));
    Matcher m = Pattern.compile("dropped (\\d+) lines of output from worker (default-\\d+-\\d+)")
        .matcher(report.getFormattedMessage());
    assertTrue(m.matches(), report.getFormattedMessage());
    long logged = LOG.count(e -> e.getFormattedMessage().endsWith("stderr] rate-probe"));
    assertTrue(logged >= 900 && logged < 5000, logged + " lines logged");
    assertEquals(m.group(2), report.getMDCPropertyMap().get("snakepit.worker"));
  }

  @Test
  void aTenMebibyteLineWithoutNewlineIsLoggedOnceCut() throws Exception {
    Pool pool = NODE.pool("long");
    await(pool.execute("long_line", "{\"size\": " + 10 * 1024 * 1024 + "}"));
    // The line ends with the worker's output: end the worker.
    assertInstanceOf(WorkerCrashedException.class, failure(pool.execute("exit", "{\"code\": 0}")));
    ILoggingEvent cut = LOG.await(e -> e.getFormattedMessage().contains("more bytes cut]"));
    assertTrue(cut.getFormattedMessage().matches("\\[long-\\d+-\\d+ stdout] x{8192} \\[\\.\\.\\. "
        + (10 * 1024 * 1024 - 8192) + " more bytes cut]"), cut.getFormattedMessage().substring(0, 40));
    Thread.sleep(1000);
    assertEquals(1, LOG.count(e -> e.getFormattedMessage().contains("more bytes cut]")));
  }

  @Test
  void bytesThatAreNotUtf8AreEscaped() throws Exception {
    Pool pool = NODE.pool("default");
    await(pool.execute("write_bytes", "{\"hex\": \"" + "657363617065642dff00e282ac0a" + "\"}"));
    ILoggingEvent event = LOG.await(e -> e.getFormattedMessage().contains("escaped-"));
    assertTrue(event.getFormattedMessage().endsWith("stdout] escaped-\\xff\\x00€"), event.getFormattedMessage());
  }

  @Test
  void discardLogsNothingButTheCrashStillShowsTheStderrTail() throws Exception {
    Pool pool = NODE.pool("quiet");
    await(pool.execute("say", "{\"text\": \"not for the log\", \"count\": 10}"));
    await(pool.execute("say", "{\"text\": \"nor this\", \"stream\": \"stderr\"}"));
    WorkerCrashedException crash = assertInstanceOf(WorkerCrashedException.class,
        failure(pool.execute("exit", "{\"code\": 3, \"message\": \"last words\"}")));
    List<String> tail = crash.stderrTail();
    assertEquals(List.of("nor this", "last words"), tail.subList(tail.size() - 2, tail.size()), tail.toString());
    assertEquals(0, LOG.count(e -> e.getLoggerName().equals("snakepit.worker.quiet")));
  }

  @Test
  void fileModeWritesEachWorkersOutputToItsFileAndRotatesWithinTheCap() throws Exception {
    Pool pool = NODE.pool("files");
    String line = "f".repeat(199);
    await(pool.execute("say", "{\"text\": \"" + line + "\", \"count\": 1000}")); // ~230 KB with stamps
    await(pool.execute("say", "{\"text\": \"the-end\", \"stream\": \"stderr\"}"));
    // stdout and stderr are two pipes: the stderr line may overtake the last stdout lines, and a rotation they cause
    // then moves it to the .1 file. Either file may hold it; it must reach one (the flush a second after the write).
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<Path> files;
    do {
      Thread.sleep(200);
      try (var list = Files.list(FILES)) {
        files = list.sorted().toList();
      }
    } while (!anyHolds(files, " err the-end") && System.nanoTime() < deadline);
    assertEquals(2, files.size(), files.toString());
    assertTrue(files.get(0).getFileName().toString().matches("files-\\d+-\\d+\\.log"), files.toString());
    assertTrue(files.get(1).getFileName().toString().matches("files-\\d+-\\d+\\.log\\.1"), files.toString());
    for (Path p : files) {
      assertTrue(Files.size(p) <= 64 * 1024, p + " holds " + Files.size(p));
    }
    assertTrue(anyHolds(files, " err the-end"), "the last line reached no file: " + files);
    assertTrue(Files.readString(files.get(1)).contains(" out " + line));
    assertEquals(0, LOG.count(e -> e.getLoggerName().equals("snakepit.worker.files")));
  }

  private static boolean anyHolds(List<Path> files, String text) throws java.io.IOException {
    for (Path p : files) {
      if (Files.readString(p).contains(text)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aTenMebibytesPerSecondFloodNeitherBlocksTheWorkerNorFloodsTheLogNorSlowsCalls() throws Exception {
    Pool pool = NODE.pool("default");
    Load.run(pool, 2, Duration.ofSeconds(4)); // warm both workers, the channels and the JIT
    Load.Figures quiet = Load.run(pool, 2, Duration.ofSeconds(6));
    long logBefore = LOG.bytes();
    await(pool.executeInSession("flood", Affinity.STRICT_QUEUE, "flood", "{\"seconds\": 20}"));
    long floodStart = System.nanoTime();
    Thread.sleep(1000);
    Load.Figures flood = Load.run(pool, 2, Duration.ofSeconds(15));
    String result;
    do {
      Thread.sleep(500);
      result = await(pool.executeInSession("flood", Affinity.STRICT_QUEUE, "flood_result", "{}")).json();
    } while (!result.contains("\"done\": true") && System.nanoTime() - floodStart < 40e9);
    Thread.sleep(6000); // the last "dropped" report
    long grown = LOG.bytes() - logBefore;
    String figures = "quiet " + quiet + ", flood " + flood + ", flood " + result + ", log grew " + grown + " bytes";
    System.out.println("flood figures: " + figures);
    assertTrue(result.contains("\"done\": true"), figures);
    assertTrue(number(result, "bytes") >= 200.0 * 1024 * 1024 - 1024 * 1024, figures);
    assertTrue(number(result, "seconds") < 25, "the worker's writes were held up: " + figures);
    assertTrue(grown <= 5L * 1024 * 1024, figures);
    assertTrue(LOG.count(e -> e.getFormattedMessage().startsWith("dropped ")) >= 3, figures);
    // Calls must not wait behind the output. Output read on the actor's mailbox (before issue 17) held pings up by
    // tens of milliseconds to seconds; what the flood may still cost is CPU, shared on a small machine, and a
    // sub-millisecond tail is that machine's noise (0.55 ms quiet, 1.23 ms under flood, on a busy 2-core CI run).
    // The 2x p99 goal is measured where speed is: FloodBench, the median of 5 runs.
    assertTrue(flood.p99Millis() <= 2 * quiet.p99Millis() + 5, "p99 more than doubled, by more than 5 ms: " + figures);
    assertTrue(flood.maxMillis() <= 1000, "a ping waited a second: " + figures);
    assertTrue(flood.callsPerSecond() >= 0.5 * quiet.callsPerSecond(), "throughput halved: " + figures);
  }

  /** A number field of a flat JSON object. */
  private static double number(String json, String field) {
    Matcher m = Pattern.compile("\"" + field + "\": ([0-9.eE+-]+)").matcher(json);
    assertTrue(m.find(), field + " in " + json);
    return Double.parseDouble(m.group(1));
  }

  /** Closed-loop ping load: {@code callers} each calling back to back. */
  static final class Load {
    record Figures(long calls, double callsPerSecond, double p50Millis, double p99Millis, double maxMillis) {
      @Override
      public String toString() {
        return String.format("%d calls, %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms", calls, callsPerSecond,
            p50Millis, p99Millis, maxMillis);
      }
    }

    static Figures run(Pool pool, int callers, Duration length) throws Exception {
      List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
      long end = System.nanoTime() + length.toNanos();
      List<CompletableFuture<Void>> loops = new ArrayList<>();
      for (int c = 0; c < callers; c++) {
        loops.add(CompletableFuture.runAsync(() -> {
          while (System.nanoTime() < end) {
            long t0 = System.nanoTime();
            try {
              await(pool.execute("ping", "{}"));
            } catch (Exception e) {
              throw new IllegalStateException("a ping failed", e);
            }
            latencies.add(System.nanoTime() - t0);
          }
        }));
      }
      CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(length.toSeconds() + 60,
          java.util.concurrent.TimeUnit.SECONDS);
      List<Long> sorted = latencies.stream().sorted().toList();
      return new Figures(sorted.size(), sorted.size() / (length.toNanos() / 1e9),
          sorted.get(sorted.size() / 2) / 1e6, sorted.get((int) (sorted.size() * 0.99)) / 1e6,
          sorted.get(sorted.size() - 1) / 1e6);
    }
  }

  /**
   * The node's log as it would be written: every event of every logger, formatted with a pattern that includes the
   * MDC, counted in bytes; the events of the workers' loggers (raw output and Python records) are kept for the
   * assertions.
   */
  static final class NodeLog extends AppenderBase<ILoggingEvent> {
    private final AtomicLong bytes = new AtomicLong();
    private final List<ILoggingEvent> kept = Collections.synchronizedList(new ArrayList<>());
    private PatternLayoutEncoder encoder;

    void attach() {
      LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
      encoder = new PatternLayoutEncoder();
      encoder.setContext(context);
      encoder.setPattern("%d{ISO8601} %-5level [%thread] %logger %X - %msg%n");
      encoder.start();
      setContext(context);
      start();
      context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(this);
    }

    void detach() {
      ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(this);
    }

    @Override
    protected void append(ILoggingEvent event) {
      event.prepareForDeferredProcessing();
      bytes.addAndGet(encoder.encode(event).length);
      if ((event.getLoggerName().startsWith("snakepit.worker.") || event.getLoggerName().startsWith("snakepit.python."))
          && kept.size() < 100_000) {
        kept.add(event);
      }
    }

    long bytes() {
      return bytes.get();
    }

    /** Forgets the lines kept so far (the byte count goes on). */
    void forget() {
      kept.clear();
    }

    long count(java.util.function.Predicate<ILoggingEvent> which) {
      synchronized (kept) {
        return kept.stream().filter(which).count();
      }
    }

    ILoggingEvent await(java.util.function.Predicate<ILoggingEvent> which) throws InterruptedException {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (System.nanoTime() < deadline) {
        synchronized (kept) {
          for (ILoggingEvent e : kept) {
            if (which.test(e)) {
              return e;
            }
          }
        }
        Thread.sleep(50);
      }
      throw new AssertionError("no such line in the workers' log within 20 s");
    }
  }
}
