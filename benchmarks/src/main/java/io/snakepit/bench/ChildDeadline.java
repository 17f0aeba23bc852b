package io.snakepit.bench;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Kills child processes that have not done their part within a limit, with their descendants: a read of their output
 * that would otherwise block forever then ends (EOF), so no benchmark waits without a bound.
 */
final class ChildDeadline implements AutoCloseable {
  private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "bench-child-deadline");
    t.setDaemon(true);
    return t;
  });

  private final ScheduledFuture<?> kill;

  /** Kills whatever {@code children} holds when {@code limit} passes, unless closed before. */
  ChildDeadline(Collection<Process> children, Duration limit, String what) {
    this.kill = TIMER.schedule(() -> {
      System.err.println("bench: " + what + " took longer than " + limit.toSeconds() + " s: killing "
          + children.stream().map(Process::pid).toList());
      for (Process p : List.copyOf(children)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }, limit.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Kills {@code child} when {@code limit} passes, unless closed before. */
  static ChildDeadline of(Process child, Duration limit, String what) {
    return new ChildDeadline(List.of(child), limit, what);
  }

  /** Waits for {@code p} to end, killing it if it has not within 10 s. */
  static void reap(Process p) throws InterruptedException {
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        System.err.println("bench: process " + p.pid() + " did not end 10 s after SIGKILL");
      }
    }
  }

  @Override
  public void close() {
    kill.cancel(false);
  }
}
