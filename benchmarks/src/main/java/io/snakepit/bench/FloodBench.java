package io.snakepit.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.filter.ThresholdFilter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.FileAppender;
import io.snakepit.Affinity;
import io.snakepit.Pool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.LoggerFactory;

/**
 * A chatty worker: pings through a pool of two workers while one of them writes 10 MiB/s of mixed text and binary
 * (half on stdout, half on stderr) for 20 s, against the same pings with no output, in the same run; and what the
 * flood adds to the node's log, written at INFO to a file as a node would, with the default output settings.
 */
final class FloodBench implements Bench {
  private static final String ADAPTER = "snakepit_worker.examples.chatty:ChattyAdapter";
  private static final int CALLERS = 2;
  private static final int FLOOD_SECONDS = 20;
  private static final long FLOOD_RATE = 10L * 1024 * 1024;

  @Override
  public List<Measurement> run(Context c) throws Exception {
    double window = c.quick() ? 3 : 15;
    int runs = c.quick() ? 1 : c.runs();
    int floodSeconds = c.quick() ? 6 : FLOOD_SECONDS;
    List<Double> p99Quiet = new ArrayList<>();
    List<Double> p99Flood = new ArrayList<>();
    List<Double> rateQuiet = new ArrayList<>();
    List<Double> rateFlood = new ArrayList<>();
    List<Double> logMiB = new ArrayList<>();
    List<Double> writtenMiB = new ArrayList<>();
    List<Double> writeSeconds = new ArrayList<>();
    Path nodeLog = c.scratch().resolve("flood-node.log");
    try (NodeLogFile log = NodeLogFile.open(nodeLog);
        Node node = Node.start(c, "p { workers = 2, adapter = \"" + ADAPTER + "\" }")) {
      node.awaitReady();
      Pool pool = node.snakepit.pool("p");
      ClosedLoop.run(CALLERS, c.quick() ? 1 : 5, () -> ping(pool)); // warm-up: both workers, channels, JIT
      for (int run = 0; run < runs; run++) {
        ClosedLoop.Window quiet = ClosedLoop.run(CALLERS, window, () -> ping(pool));
        String session = "flood-" + run;
        long before = Files.size(nodeLog);
        pool.executeInSession(session, Affinity.STRICT_QUEUE, "flood", "{\"seconds\": " + floodSeconds
            + ", \"bytes_per_second\": " + FLOOD_RATE + "}").toCompletableFuture().get(60, TimeUnit.SECONDS);
        long started = System.nanoTime();
        Thread.sleep(1000);
        ClosedLoop.Window flood = ClosedLoop.run(CALLERS, window, () -> ping(pool));
        String result;
        do {
          Thread.sleep(250);
          result = pool.executeInSession(session, Affinity.STRICT_QUEUE, "flood_result", "{}")
              .toCompletableFuture().get(60, TimeUnit.SECONDS).json();
        } while (!result.contains("\"done\": true") && System.nanoTime() - started < 3L * floodSeconds * 1_000_000_000L);
        if (!result.contains("\"done\": true")) {
          throw new IllegalStateException("the flood did not end within " + 3 * floodSeconds + " s: " + result);
        }
        Thread.sleep(6000); // the drop report of the flood's last interval
        double grown = (Files.size(nodeLog) - before) / 1048576.0;
        p99Quiet.add(quiet.micros(99) / 1000);
        p99Flood.add(flood.micros(99) / 1000);
        rateQuiet.add(quiet.callsPerSecond());
        rateFlood.add(flood.callsPerSecond());
        logMiB.add(grown);
        writtenMiB.add(number(result, "bytes") / 1048576.0);
        writeSeconds.add(number(result, "seconds"));
        System.out.println(String.format(Locale.ROOT, "  run %d: quiet %.0f calls/s p99 %.2f ms; flood %.0f calls/s"
            + " p99 %.2f ms; the worker wrote %.0f MiB in %.2f s; the node's log grew %.2f MiB", run + 1,
            quiet.callsPerSecond(), quiet.micros(99) / 1000, flood.callsPerSecond(), flood.micros(99) / 1000,
            number(result, "bytes") / 1048576.0, number(result, "seconds"), grown));
      }
    }
    String how = String.format(Locale.ROOT, "A pool of 2 workers (ChattyAdapter), %d closed-loop callers of ping"
        + " for %.0f s: quiet, then from 1 s into a %d s flood of %d MiB/s from one of the workers (mixed text and"
        + " binary, half on each stream); default output settings (log, 200 lines/s, burst 1000, 8 KiB lines);"
        + " the node's log at INFO to a file", CALLERS, window, floodSeconds, FLOOD_RATE >> 20);
    String group = "Worker output";
    return List.of(
        new Measurement("flood.p99", group, "ping p99 during a 10 MiB/s output flood", "ms",
            new Series("flood", p99Flood), new Series("quiet", p99Quiet), Goal.ratioAtMost(2, "<= 2x quiet"), how),
        new Measurement("flood.throughput", group, "pings/s during a 10 MiB/s output flood", "calls/s",
            new Series("flood", rateFlood), new Series("quiet", rateQuiet), Goal.ratioAtLeast(0.5, ">= 0.5x quiet"),
            how),
        new Measurement("flood.log", group, "node log growth during a 20 s flood of 10 MiB/s", "MiB",
            new Series("node log", logMiB), new Series("written by the worker", writtenMiB),
            Goal.atMost(5, "<= 5 MiB"), how + "; from the flood's start to 6 s after its end"),
        new Measurement("flood.writes", group, "time the worker's 20 s of writes took", "s",
            new Series("writes", writeSeconds), null, Goal.atMost(floodSeconds * 1.25, "<= 1.25x the flood's"
            + " length: the worker never waits on a full pipe"), how));
  }

  private static void ping(Pool pool) throws Exception {
    pool.execute("ping", "{}").toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static double number(String json, String field) {
    Matcher m = Pattern.compile("\"" + field + "\": ([0-9.eE+-]+)").matcher(json);
    if (!m.find()) {
      throw new IllegalStateException("no " + field + " in " + json);
    }
    return Double.parseDouble(m.group(1));
  }

  /**
   * The node's log as a node would keep it: everything at INFO and up to a file. The suite's console stays at its
   * own threshold meanwhile (a filter on its appenders), and all is put back on close.
   */
  private static final class NodeLogFile implements AutoCloseable {
    private final Logger root;
    private final Level level;
    private final FileAppender<ILoggingEvent> file;
    private final List<Appender<ILoggingEvent>> console = new ArrayList<>();

    private NodeLogFile(Logger root, FileAppender<ILoggingEvent> file) {
      this.root = root;
      this.level = root.getLevel();
      this.file = file;
    }

    static NodeLogFile open(Path path) throws Exception {
      Files.deleteIfExists(path);
      Files.createFile(path);
      LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
      PatternLayoutEncoder encoder = new PatternLayoutEncoder();
      encoder.setContext(context);
      encoder.setPattern("%d{ISO8601} %-5level [%thread] %logger %X - %msg%n");
      encoder.start();
      FileAppender<ILoggingEvent> file = new FileAppender<>();
      file.setContext(context);
      file.setName("flood-node-log");
      file.setFile(path.toString());
      file.setEncoder(encoder);
      file.start();
      Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
      NodeLogFile log = new NodeLogFile(root, file);
      for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
        Appender<ILoggingEvent> appender = it.next();
        ThresholdFilter warn = new ThresholdFilter();
        warn.setLevel(log.level == null ? "WARN" : log.level.levelStr);
        warn.start();
        appender.addFilter(warn);
        log.console.add(appender);
      }
      root.addAppender(file);
      root.setLevel(Level.INFO);
      return log;
    }

    @Override
    public void close() {
      root.setLevel(level);
      root.detachAppender(file);
      file.stop();
      console.forEach(Appender::clearAllFilters);
    }
  }
}
