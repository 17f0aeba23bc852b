package io.snakepit.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Reads a node's stdout up to its ready line, for at most a limit: a node whose start failed may neither print nor
 * end, and must not hold a test forever. The reading runs on a thread of its own; the caller waits with the limit.
 */
public final class ReadyLine {
  /** How the wait ended. */
  public enum Outcome { READY, ENDED, TIMED_OUT }

  private ReadyLine() {}

  /**
   * Hands every line to {@code each} until one starts with {@code prefix} (handed too), the output ends, or
   * {@code limit} passes.
   */
  public static Outcome await(Process p, String prefix, Duration limit, Consumer<String> each)
      throws InterruptedException {
    return await(p, prefix, limit, each, null);
  }

  /**
   * As {@link #await(Process, String, Duration, Consumer)}; with {@code later} not null the reading goes on after the
   * prefix's line until the output ends, handing each later line to {@code later} (on the reading thread).
   */
  public static Outcome await(Process p, String prefix, Duration limit, Consumer<String> each,
      Consumer<String> later) throws InterruptedException {
    BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    String end = new String("end"); // compared by identity
    Thread reader = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null) {
          queue.add(line);
          if (line.startsWith(prefix)) {
            break;
          }
        }
        if (later != null) {
          while ((line = out.readLine()) != null) {
            later.accept(line);
          }
        }
      } catch (IOException e) {
        // the node is gone
      }
      queue.add(end);
    }, "node-" + p.pid() + "-stdout");
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      String line = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (line == null) {
        return Outcome.TIMED_OUT;
      }
      if (line == end) {
        return Outcome.ENDED;
      }
      each.accept(line);
      if (line.startsWith(prefix)) {
        return Outcome.READY;
      }
    }
  }
}
