package io.snakepit.actors.worker;

import io.snakepit.shim.OutputLines;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What becomes of one worker's stdout and stderr, on the thread that reads its shim (NuProcess's), never through the
 * actor's mailbox: a worker that writes without pause must neither fill the node's log nor delay a call. Each line is
 * cut to {@code output-max-line} (pieces past it are dropped as they come, so a line without end holds no more than
 * that), escaped ({@link OutputText}), kept in the stderr tail if it is stderr, then handed to the pool's
 * {@code output} target: the node's log under {@code snakepit.worker.<pool>} within a rate limit, a rotating file, or
 * nothing.
 *
 * <p>Threads: lines, the Python pid and the end come from the reading thread; {@link #tick()} from the node's
 * scheduler, asked for only while the target has periodic work due (dropped lines to report, a file to flush), so
 * an idle worker costs no timer; {@link #close()} also from the actor. Every entry point is synchronized (uncontended but for a tick), and
 * the stderr tail the actor reads is its own synchronized object. Every step is cheap and in memory, but for the
 * buffered write of {@code output = file}.
 */
final class WorkerOutput implements OutputLines {
  /** The MDC key of the worker's id on its output lines. */
  static final String MDC_WORKER = "snakepit.worker";
  /** The MDC key of the worker's Python pid on its output lines. */
  static final String MDC_PID = "snakepit.pid";
  /** The workers' loggers are named this plus their pool's name. */
  static final String LOGGER_PREFIX = "snakepit.worker.";
  /** The loggers of the workers' forwarded Python log records are named this plus their pool's name. */
  static final String PYTHON_LOGGER_PREFIX = "snakepit.python.";
  /** The MDC key of the pool's name on forwarded Python log records. */
  static final String MDC_POOL = "snakepit.pool";
  /** The MDC key of the call a forwarded Python log record was logged in. */
  static final String MDC_CALL = "snakepit.call";

  private final String workerId;
  private final WorkerSettings.Output settings;
  private final Logger log;
  private final Logger pythonLog;
  private final String pool;
  private final StderrTail tail;
  private final Target target;
  private final Pending stdout;
  private final Pending stderr;
  private final Consumer<Runnable> later;
  private final LongConsumer droppedReport;
  private String pid = "";
  private boolean closed;
  private boolean tickAsked;

  /**
   * The output of worker {@code workerId} of pool {@code pool}; {@code runDir} is where {@code output = file} puts its
   * files unless {@code output-file.dir} is set; {@code later} runs a task once, about a second later (the node's
   * scheduler), for the target's periodic work; {@code droppedReport} takes the count of lines the rate limit dropped,
   * each time it is reported (the worker publishes it as {@code OutputDropped}).
   */
  WorkerOutput(String workerId, String pool, WorkerSettings.Output settings, int stderrTail, Path runDir,
      Consumer<Runnable> later, LongConsumer droppedReport) {
    this.workerId = workerId;
    this.later = later;
    this.droppedReport = droppedReport;
    this.settings = settings;
    this.log = LoggerFactory.getLogger(LOGGER_PREFIX + pool);
    this.pythonLog = LoggerFactory.getLogger(PYTHON_LOGGER_PREFIX + pool);
    this.pool = pool;
    this.tail = new StderrTail(stderrTail);
    this.stdout = new Pending(settings.maxLine());
    this.stderr = new Pending(settings.maxLine());
    this.target = switch (settings.mode()) {
      case LOG -> new LogTarget(System.nanoTime());
      case FILE -> new FileTarget(new OutputFile(
          (settings.fileDir().isEmpty() ? runDir.resolve("output") : Path.of(settings.fileDir()))
              .resolve(workerId + ".log"), settings.fileMaxSize(), settings.fileKeep()));
      case DISCARD -> new DiscardTarget();
    };
  }

  /** The text that ends a line cut to the limit. */
  static String cutMarker(long cut) {
    return " [... " + cut + " more bytes cut]";
  }

  /** The worker's stderr tail, shared with its {@link StartDiagnosis}. */
  StderrTail stderrTail() {
    return tail;
  }

  /** Python's pid, once the shim has reported it: it goes in the MDC of every later line. */
  synchronized void pid(int pythonPid) {
    pid = Integer.toString(pythonPid);
  }

  @Override
  public synchronized void line(boolean fromStderr, byte[] bytes, int from, int to, boolean continued) {
    if (closed) {
      return;
    }
    Pending pending = fromStderr ? stderr : stdout;
    if (!continued && pending.isEmpty()) {
      int kept = Math.min(to - from, settings.maxLine());
      complete(fromStderr, bytes, from, from + kept, to - from - kept);
      return;
    }
    pending.append(bytes, from, to);
    if (!continued) {
      complete(fromStderr, pending.bytes, 0, pending.length, pending.cut);
      pending.clear();
    }
  }

  /** Reports dropped lines whose interval is over and flushes a file; asked for again while work is due. */
  synchronized void tick() {
    tickAsked = false;
    if (!closed) {
      target.tick(System.nanoTime(), false);
      askTickIfDue();
    }
  }

  private void askTickIfDue() {
    if (!tickAsked && target.due()) {
      tickAsked = true;
      later.accept(this::tick);
    }
  }

  /** The worker's output ended (or the actor stopped): what is pending goes out, and the file is closed. */
  synchronized void close() {
    if (closed) {
      return;
    }
    // A last piece never came (the shim was killed mid-line): what there is still counts as a line.
    if (!stdout.isEmpty()) {
      complete(false, stdout.bytes, 0, stdout.length, stdout.cut);
    }
    if (!stderr.isEmpty()) {
      complete(true, stderr.bytes, 0, stderr.length, stderr.cut);
    }
    closed = true;
    target.tick(System.nanoTime(), true);
    target.close();
  }

  /** How many bytes this output holds for lines not yet complete (at most twice {@code output-max-line}). */
  synchronized int heldBytes() {
    return stdout.bytes.length + stderr.bytes.length;
  }

  private void complete(boolean fromStderr, byte[] bytes, int from, int to, long cut) {
    PythonLogRecord record = fromStderr && cut == 0 ? PythonLogRecord.parse(bytes, from, to) : null;
    if (record != null) {
      record.text().lines().forEach(tail::add); // as many lines as the same text on stderr would be
      target.record(record, bytes, from, to, System.nanoTime());
    } else {
      if (fromStderr) {
        tail.add(bytes, from, to, cut);
      }
      target.line(fromStderr, bytes, from, to, cut, System.nanoTime());
    }
    askTickIfDue();
  }

  private String text(byte[] bytes, int from, int to, long cut) {
    String text = OutputText.of(bytes, from, to);
    return cut > 0 ? text + cutMarker(cut) : text;
  }

  /** A line that comes in pieces: up to the limit, and a count of the bytes past it. */
  private static final class Pending {
    private final int limit;
    byte[] bytes = new byte[0];
    int length;
    long cut;
    private boolean started;

    Pending(int limit) {
      this.limit = limit;
    }

    boolean isEmpty() {
      return !started;
    }

    void append(byte[] from, int start, int end) {
      started = true;
      int take = Math.min(end - start, limit - length);
      if (length + take > bytes.length) {
        bytes = Arrays.copyOf(bytes, Math.min(limit, Math.max(length + take, bytes.length * 2)));
      }
      System.arraycopy(from, start, bytes, length, take);
      length += take;
      cut += end - start - take;
    }

    void clear() {
      started = false;
      length = 0;
      cut = 0;
      if (bytes.length > 1024) {
        bytes = new byte[0]; // a long line's room is not kept for the short ones after it
      }
    }
  }

  /** Where complete lines go: one class per {@code output} mode, chosen once. */
  private interface Target {
    void line(boolean fromStderr, byte[] bytes, int from, int to, long cut, long now);

    /** A forwarded Python log record, whose line is {@code bytes[from, to)}: by default, a stderr line as any other. */
    default void record(PythonLogRecord record, byte[] bytes, int from, int to, long now) {
      line(true, bytes, from, to, 0, now);
    }

    /** Periodic work (and, with {@code last}, the last of it). */
    void tick(long now, boolean last);

    /** Whether periodic work is due: a {@link #tick} should come. */
    boolean due();

    void close();
  }

  /**
   * {@code output = log}: stdout and stderr at INFO (Python's logging writes every level to stderr, so stderr is not
   * a warning in itself), under {@code snakepit.worker.<pool>} with the worker and its pid in the MDC, within the
   * rate limit; lines past it are counted and reported, at WARN, once per interval.
   */
  private final class LogTarget implements Target {
    private final OutputRate rate;
    private final long interval;
    private long lastReport;
    private long dropped;

    LogTarget(long now) {
      this.rate = new OutputRate(settings.rate(), settings.burst(), now);
      this.interval = settings.droppedReportInterval().toNanos();
      this.lastReport = now;
    }

    @Override
    public void line(boolean fromStderr, byte[] bytes, int from, int to, long cut, long now) {
      if (!rate.take(now)) {
        dropped++;
        return;
      }
      tick(now, false);
      if (!log.isInfoEnabled()) {
        return;
      }
      String text = text(bytes, from, to, cut);
      MDC.put(MDC_WORKER, workerId);
      MDC.put(MDC_PID, pid);
      try {
        if (fromStderr) {
          log.info("[{} stderr] {}", workerId, text);
        } else {
          log.info("[{} stdout] {}", workerId, text);
        }
      } finally {
        MDC.remove(MDC_WORKER);
        MDC.remove(MDC_PID);
      }
    }

    /**
     * A forwarded record goes to {@code snakepit.python.<pool>} at its own level, with the pool, worker, pid and call
     * in the MDC, within the same rate as the raw lines.
     */
    @Override
    public void record(PythonLogRecord record, byte[] bytes, int from, int to, long now) {
      if (!rate.take(now)) {
        dropped++;
        return;
      }
      tick(now, false);
      MDC.put(MDC_POOL, pool);
      MDC.put(MDC_WORKER, workerId);
      MDC.put(MDC_PID, pid);
      if (!record.call().isEmpty()) {
        MDC.put(MDC_CALL, record.call());
      }
      try {
        String text = record.exception().isEmpty() ? record.message() : record.message() + "\n" + record.exception();
        switch (record.level()) {
          case "CRITICAL", "ERROR" -> pythonLog.error("[{} {}] {}", workerId, record.logger(), text);
          case "WARNING" -> pythonLog.warn("[{} {}] {}", workerId, record.logger(), text);
          case "DEBUG" -> pythonLog.debug("[{} {}] {}", workerId, record.logger(), text);
          case "NOTSET" -> pythonLog.trace("[{} {}] {}", workerId, record.logger(), text);
          default -> pythonLog.info("[{} {}] {}", workerId, record.logger(), text);
        }
      } finally {
        MDC.remove(MDC_POOL);
        MDC.remove(MDC_WORKER);
        MDC.remove(MDC_PID);
        MDC.remove(MDC_CALL);
      }
    }

    @Override
    public boolean due() {
      return dropped > 0;
    }

    @Override
    public void tick(long now, boolean last) {
      if (dropped > 0 && (last || now - lastReport >= interval)) {
        MDC.put(MDC_WORKER, workerId);
        MDC.put(MDC_PID, pid);
        try {
          log.warn("dropped {} lines of output from worker {}", dropped, workerId);
        } finally {
          MDC.remove(MDC_WORKER);
          MDC.remove(MDC_PID);
        }
        droppedReport.accept(dropped);
        dropped = 0;
        lastReport = now;
      }
    }

    @Override
    public void close() {}
  }

  /** {@code output = file}: every line, with its time and stream, in the worker's rotating file. */
  private final class FileTarget implements Target {
    private final OutputFile file;
    private long stampMillis = -1;
    private String stamp;
    private boolean failed;
    private boolean unflushed;

    FileTarget(OutputFile file) {
      this.file = file;
    }

    @Override
    public void line(boolean fromStderr, byte[] bytes, int from, int to, long cut, long now) {
      if (failed) {
        return;
      }
      long millis = System.currentTimeMillis();
      if (millis != stampMillis) {
        stampMillis = millis;
        stamp = Instant.ofEpochMilli(millis).toString();
      }
      try {
        file.write(stamp + (fromStderr ? " err " : " out ") + text(bytes, from, to, cut));
        unflushed = true;
      } catch (IOException e) {
        fail(e);
      }
    }

    @Override
    public boolean due() {
      return unflushed && !failed;
    }

    @Override
    public void tick(long now, boolean last) {
      unflushed = false;
      try {
        file.flush();
      } catch (IOException e) {
        fail(e);
      }
    }

    @Override
    public void close() {
      try {
        file.close();
      } catch (IOException e) {
        fail(e);
      }
    }

    /** A file that cannot be written is given up, once, with a warning: the worker goes on. */
    private void fail(IOException e) {
      if (!failed) {
        failed = true;
        log.warn("cannot write the output of worker {} to {}: {}; its further output is discarded. Check the"
            + " directory (output-file.dir) and its free space", workerId, file.path(), e.toString());
      }
    }
  }

  /** {@code output = discard}: nothing (stderr still reaches the tail, for crash messages). */
  private static final class DiscardTarget implements Target {
    @Override
    public void line(boolean fromStderr, byte[] bytes, int from, int to, long cut, long now) {}

    @Override
    public void tick(long now, boolean last) {}

    @Override
    public boolean due() {
      return false;
    }

    @Override
    public void close() {}
  }
}
