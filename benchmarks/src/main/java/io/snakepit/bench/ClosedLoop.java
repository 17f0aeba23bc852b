package io.snakepit.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;

/**
 * A closed-loop load: a fixed number of caller threads, each making one call and waiting for it before the next, for
 * a fixed time. The in-flight bound is the number of callers, whatever the system under test does.
 */
final class ClosedLoop {

  /** One call; it throws when the call failed or answered wrongly. */
  @FunctionalInterface
  interface Call {
    void run() throws Exception;
  }

  /**
   * What one window measured.
   *
   * @param calls calls completed within the window
   * @param seconds the window's real length
   * @param latencies each call's time from its start to its answer, in nanoseconds
   */
  record Window(long calls, double seconds, Histogram latencies) {

    double callsPerSecond() {
      return calls / seconds;
    }

    double micros(double percentile) {
      return latencies.getValueAtPercentile(percentile) / 1000.0;
    }
  }

  private ClosedLoop() {}

  /** Runs {@code callers} threads making {@code call} for {@code seconds}; fails with the first call's failure. */
  static Window run(int callers, double seconds, Call call) throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    AtomicReference<Exception> failure = new AtomicReference<>();
    List<Histogram> histograms = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    long[] deadline = new long[1];
    for (int i = 0; i < callers; i++) {
      // Three significant digits, up to 60 s: one histogram per caller, so recording takes no lock.
      Histogram mine = new Histogram(60_000_000_000L, 3);
      histograms.add(mine);
      Thread t = new Thread(() -> {
        try {
          start.await();
          while (System.nanoTime() < deadline[0] && failure.get() == null) {
            long t0 = System.nanoTime();
            call.run();
            mine.recordValue(System.nanoTime() - t0);
          }
        } catch (Exception e) {
          failure.compareAndSet(null, e);
        }
      }, "closed-loop-" + i);
      threads.add(t);
      t.start();
    }
    long began = System.nanoTime();
    deadline[0] = began + (long) (seconds * 1e9);
    start.countDown(); // publishes deadline[0] to the callers
    long joinBy = deadline[0] + TimeUnit.MINUTES.toNanos(2); // a call in flight at the deadline may take its time
    for (Thread t : threads) {
      t.join(Math.max(1, (joinBy - System.nanoTime()) / 1_000_000));
      if (t.isAlive()) {
        throw new IllegalStateException(t.getName() + " still in a call 2 min after the window ended");
      }
    }
    double elapsed = (System.nanoTime() - began) / 1e9;
    if (failure.get() != null) {
      throw new IllegalStateException("a call failed under load: " + failure.get(), failure.get());
    }
    Histogram all = new Histogram(60_000_000_000L, 3);
    histograms.forEach(all::add);
    return new Window(all.getTotalCount(), elapsed, all);
  }
}
