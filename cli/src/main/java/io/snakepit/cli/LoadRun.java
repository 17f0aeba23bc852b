package io.snakepit.cli;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Status;
import io.snakepit.proto.ExecuteRequest;
import io.snakepit.proto.ExecuteResponse;
import io.snakepit.proto.GatewayGrpc;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One run of {@code snakepit load}: the loop that makes the calls, the latency recording and the progress line.
 *
 * <p>An open loop runs on the calling thread and holds one permit per call in flight; gRPC's callbacks record the
 * outcome and give the permit back, so {@code concurrency} calls in flight need no thread each. A closed loop starts
 * {@code concurrency} calls and each answer's callback sends the next one: no thread is woken per call, which on a
 * machine the client shares with the node leaves that CPU to the node. The callbacks run on the channel's transport
 * threads and only touch thread-safe counters and the {@link Recorder}.
 */
final class LoadRun {
  private static final long PROGRESS_EVERY_MILLIS = 1000;

  /**
   * What to run.
   *
   * @param request the call to make over and over
   * @param concurrency the most calls in flight at once
   * @param rate calls per second for an open loop; null for a closed loop
   * @param requests how many calls to make; 0 to make them until {@code duration} has passed
   * @param duration how long to keep starting calls (open loop: scheduling them); null with {@code requests}
   * @param timeout each call's gRPC deadline, from when it is sent
   * @param warmup true for a warm-up: an open loop stops at {@code duration} by the clock, leaving calls still due
   *     unmade, so that a node that falls behind does not stretch the warm-up
   */
  record Plan(ExecuteRequest request, int concurrency, Double rate, long requests, Duration duration,
      Duration timeout, boolean warmup) {
    Plan(ExecuteRequest request, int concurrency, Double rate, long requests, Duration duration, Duration timeout) {
      this(request, concurrency, rate, requests, duration, timeout, false);
    }

    boolean openLoop() {
      return rate != null;
    }

    /** The warm-up of this plan: the same calls, loop and concurrency, for {@code length}. */
    Plan warmup(Duration length) {
      return new Plan(request, concurrency, rate, 0, length, timeout, true);
    }
  }

  private final Plan plan;
  private final Semaphore inFlight;
  private final Recorder latencyMicros = new Recorder(3);
  private final LongAdder ok = new LongAdder();
  private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
  private final LongAdder finished = new LongAdder();
  private final AtomicLong sent = new AtomicLong();
  // Closed loop: sends asked for and not yet made; whoever raises it from 0 makes them, one at a time.
  private final AtomicInteger sendsDue = new AtomicInteger();
  // Closed loop: calls started, read and written only by whoever is making the sends.
  private long started;
  private GatewayGrpc.GatewayFutureStub gateway;
  // Written by the progress thread while the run lasts, by the calling thread after it: guarded by this.
  private final Histogram latencySoFar = new Histogram(3);
  private Histogram interval;
  private long start;

  LoadRun(Plan plan) {
    this.plan = plan;
    this.inFlight = new Semaphore(plan.concurrency());
  }

  /** Makes the calls, writing a progress line to {@code progress} about once a second; returns when all ended. */
  LoadResult run(GatewayGrpc.GatewayFutureStub gateway, PrintStream progress) throws InterruptedException {
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "snakepit-load-progress");
      t.setDaemon(true);
      return t;
    });
    start = System.nanoTime();
    ticker.scheduleAtFixedRate(new Progress(progress), PROGRESS_EVERY_MILLIS, PROGRESS_EVERY_MILLIS,
        TimeUnit.MILLISECONDS);
    try {
      makeCalls(gateway);
    } finally {
      ticker.shutdownNow();
      ticker.awaitTermination(5, TimeUnit.SECONDS);
    }
    long elapsed = System.nanoTime() - start;
    return LoadResult.of(plan, elapsed, ok.sum(), errorCounts(), drain(), sent.get());
  }

  /** Makes the calls of a warm-up plan, quietly; returns what it made once all of them ended. */
  LoadResult.Warmup warmUp(GatewayGrpc.GatewayFutureStub gateway) {
    start = System.nanoTime();
    makeCalls(gateway);
    return new LoadResult.Warmup((System.nanoTime() - start) / 1e9, finished.sum());
  }

  /** The loop: starts the plan's calls from {@link #start} on and waits until every one of them ended. */
  private void makeCalls(GatewayGrpc.GatewayFutureStub gateway) {
    this.gateway = gateway;
    if (plan.openLoop()) {
      long lasting = lasting();
      for (long i = 0; plan.requests() == 0 || i < plan.requests(); i++) {
        long due = dueTime(i);
        if (due - start >= lasting) {
          break;
        }
        sleepUntil(due);
        // All permits taken: this call waits here, and those due after it wait behind it, each keeping its due time.
        inFlight.acquireUninterruptibly();
        if (plan.warmup() && System.nanoTime() - start >= lasting) {
          inFlight.release();
          break;
        }
        send(due);
      }
    } else {
      // Each of the concurrency chains of calls holds a permit until it ends.
      inFlight.acquireUninterruptibly(plan.concurrency());
      for (int i = 0; i < plan.concurrency(); i++) {
        sendNext();
      }
    }
    // Each call ends by its gRPC deadline at the latest, so this wait is bounded by --timeout.
    inFlight.acquireUninterruptibly(plan.concurrency());
  }

  /** How long calls are started for, as time since the start (start + MAX_VALUE would overflow). */
  private long lasting() {
    return plan.duration() == null ? Long.MAX_VALUE : plan.duration().toNanos();
  }

  /**
   * Closed loop: sends the next call of a chain, or ends the chain (gives its permit back) once the plan's calls are
   * made or its time is up. Sends are made one at a time, never nested: a call that ends while a send is under way
   * (one that fails at once does) leaves its next send to the loop below, so a node that fails every call cannot
   * make the stack grow.
   */
  private void sendNext() {
    if (sendsDue.getAndIncrement() != 0) {
      return;
    }
    long lasting = lasting();
    do {
      long due = System.nanoTime();
      if (due - start >= lasting || (plan.requests() > 0 && started >= plan.requests())) {
        inFlight.release();
      } else {
        started++;
        send(due);
      }
    } while (sendsDue.decrementAndGet() != 0);
  }

  /** When call {@code i} of an open loop is due: from the start, not from the previous call, so delays never add up. */
  private long dueTime(long i) {
    return start + Math.round(i * 1e9 / plan.rate());
  }

  private static void sleepUntil(long nanoTime) {
    for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }

  private void send(long due) {
    sent.incrementAndGet();
    // A call that closes without a message broke the protocol: the future stub fails it with INTERNAL.
    Futures.addCallback(gateway.withDeadlineAfter(plan.timeout().toNanos(), TimeUnit.NANOSECONDS)
        .execute(plan.request()), new FutureCallback<>() {
          @Override
          public void onSuccess(ExecuteResponse response) {
            ended(due, response.hasError() ? response.getError().getType() : null);
          }

          @Override
          public void onFailure(Throwable t) {
            ended(due, "grpc." + Status.fromThrowable(t).getCode());
          }
        }, MoreExecutors.directExecutor());
  }

  /** Records one call's end: its latency from when it was due, and its outcome (null for a value). */
  private void ended(long due, String errorType) {
    latencyMicros.recordValue(Math.max(0, (System.nanoTime() - due) / 1000));
    if (errorType == null) {
      ok.increment();
    } else {
      errors.computeIfAbsent(errorType, type -> new LongAdder()).increment();
    }
    finished.increment();
    if (plan.openLoop()) {
      inFlight.release();
    } else {
      sendNext();
    }
  }

  /** Moves what was recorded since the last drain into the running total, and returns the total. */
  private synchronized Histogram drain() {
    interval = latencyMicros.getIntervalHistogram(interval);
    latencySoFar.add(interval);
    return latencySoFar;
  }

  /** Error counts, most frequent first. */
  private Map<String, Long> errorCounts() {
    Map<String, Long> counts = new LinkedHashMap<>();
    errors.entrySet().stream()
        .sorted(Map.Entry.<String, LongAdder>comparingByValue(Comparator.comparingLong(LongAdder::sum)).reversed()
            .thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> counts.put(e.getKey(), e.getValue().sum()));
    return counts;
  }

  /** The progress line: calls ended, the rate over the last tick, errors, and percentiles so far. */
  private final class Progress implements Runnable {
    private final PrintStream out;
    private long lastFinished;
    private long lastTick = System.nanoTime();

    Progress(PrintStream out) {
      this.out = out;
    }

    @Override
    public void run() {
      long now = System.nanoTime();
      long finishedNow = finished.sum();
      double rate = (finishedNow - lastFinished) / ((now - lastTick) / 1e9);
      lastFinished = finishedNow;
      lastTick = now;
      long failed = errors.values().stream().mapToLong(LongAdder::sum).sum();
      Histogram soFar = drain();
      String line = String.format(Locale.ROOT, "load: %.0f s, %d calls, %.1f calls/s, %d errors, p50 %.2f ms,"
              + " p99 %.2f ms", (now - start) / 1e9, finishedNow, rate, failed,
          soFar.getValueAtPercentile(50) / 1000.0, soFar.getValueAtPercentile(99) / 1000.0);
      if (plan.openLoop()) {
        line += ", " + Math.max(0, dueBy(now) - sent.get()) + " due and waiting";
      }
      out.println(line);
    }

    /** How many calls of the open loop's schedule are due by {@code now}. */
    private long dueBy(long now) {
      long due = (long) Math.floor((now - start) / 1e9 * plan.rate()) + 1;
      if (plan.requests() > 0) {
        due = Math.min(due, plan.requests());
      }
      if (plan.duration() != null) {
        due = Math.min(due, (long) Math.ceil(plan.duration().toNanos() / 1e9 * plan.rate()));
      }
      return due;
    }
  }
}
