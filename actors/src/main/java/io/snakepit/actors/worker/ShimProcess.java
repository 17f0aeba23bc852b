package io.snakepit.actors.worker;

import com.zaxxer.nuprocess.NuAbstractProcessHandler;
import com.zaxxer.nuprocess.NuProcess;
import com.zaxxer.nuprocess.NuProcessBuilder;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.SessionSweep;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * One worker's shim, as NuProcess runs it: its stdin (the lifeline and the commands), its report lines, and what
 * bounds a sweep of its session. Used on the actor's thread; the callbacks run on NuProcess's threads.
 */
final class ShimProcess {
  private final NuProcess process;
  /** Read at spawn, while the shim is certainly ours: its start time bounds which processes a sweep may touch. */
  private final ProcStat stat;

  private ShimProcess(NuProcess process) {
    this.process = process;
    int pid = process == null ? 0 : process.getPID();
    this.stat = ProcStat.read(pid).orElse(new ProcStat(pid, '?', 0, pid, pid, 0L));
  }

  /**
   * Starts a shim; {@code events} gets its report lines but Python's output, which goes to {@code output} (and with
   * it the Python pid), and {@code exited} NuProcess's exit code, on NuProcess's threads (they must only tell an
   * actor, or do the output's cheap work). Whether it started, see {@link #started()}.
   */
  static ShimProcess start(List<String> command, Map<String, String> environment, Consumer<ShimEvent> events,
      WorkerOutput output, IntConsumer exited) {
    NuProcessBuilder builder = new NuProcessBuilder(command, environment);
    builder.setProcessListener(new Handler(events, output, exited));
    return new ShimProcess(builder.start());
  }

  /** Whether NuProcess started it (when not, no exit is ever reported). */
  boolean started() {
    return process != null;
  }

  int pid() {
    return stat.pid();
  }

  /** Writes a command line to the shim (STOP, KILL), if it still runs. */
  void send(String line) {
    if (process != null && process.isRunning()) {
      process.writeStdin(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.US_ASCII)));
    }
  }

  /** SIGKILLs the shim itself. */
  void destroy() {
    if (process != null) {
      process.destroy(true);
    }
  }

  /** SIGKILLs every process of the shim's session that started no earlier than the shim; returns their pids. */
  List<Integer> sweep() {
    return SessionSweep.killSession(stat.pid(), stat.startTime());
  }

  /** Closes the lifeline: the shim then takes the tree down by itself. */
  void closeLifeline() {
    if (process != null && process.isRunning()) {
      process.closeStdin(true);
    }
  }

  /**
   * NuProcess callbacks: they run on NuProcess's shared threads and only pass on. Python's output lines never become
   * messages: the worker's {@link WorkerOutput} takes them here, so a flood costs the actor nothing, and the shim's
   * stdout is drained as fast as this thread reads it.
   */
  private static final class Handler extends NuAbstractProcessHandler {
    private final Consumer<ShimEvent> events;
    private final WorkerOutput output;
    private final IntConsumer exited;
    private final ShimLineDecoder decoder = new ShimLineDecoder();
    private final ShimLineDecoder shimStderr = new ShimLineDecoder();
    private final Consumer<ShimEvent> control;

    Handler(Consumer<ShimEvent> events, WorkerOutput output, IntConsumer exited) {
      this.events = events;
      this.output = output;
      this.exited = exited;
      this.control = event -> {
        if (event instanceof ShimEvent.Spawned spawned) {
          output.pid(spawned.pid());
        } else if (event instanceof ShimEvent.Exit) {
          output.close(); // every line of the worker came before EXIT: its tail is whole when the actor reads it
        }
        events.accept(event);
      };
    }

    @Override
    public void onStdout(ByteBuffer buffer, boolean closed) {
      decoder.feed(buffer, control, output);
      if (closed) {
        output.close();
      }
    }

    @Override
    public void onStderr(ByteBuffer buffer, boolean closed) {
      // The shim writes on its own stderr only for usage errors; keep them as shim errors.
      shimStderr.feedLines(buffer, line -> events.accept(new ShimEvent.ShimError(line)));
    }

    @Override
    public void onExit(int statusCode) {
      exited.accept(statusCode);
    }
  }
}
