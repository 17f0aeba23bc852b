package io.snakepit.actors.worker;

import com.zaxxer.nuprocess.NuAbstractProcessHandler;
import com.zaxxer.nuprocess.NuProcess;
import com.zaxxer.nuprocess.NuProcessBuilder;
import io.snakepit.shim.Pidfd;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.SessionSweep;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.ShimLineDecoder;
import io.snakepit.shim.WorkerIdentity;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * One worker's shim, as its owner holds it: the lifeline and the commands, its report lines, and what bounds a sweep
 * of its session. Two kinds: one this JVM spawned through NuProcess ({@link #start}: its stdin and stdout), and one a
 * planned restart left running that this JVM adopted ({@link #adopt}: the connection to its control socket). Used on
 * the actor's thread; the callbacks run on NuProcess's threads or the adopted shim's reader.
 */
abstract sealed class ShimProcess {
  /** The exit code reported when an adopted shim's connection ends without its EXIT line (it was killed). */
  static final int CONNECTION_LOST = -2;

  /** Read while the shim is certainly ours: its start time bounds which processes a sweep may touch. */
  final ProcStat stat;

  private ShimProcess(ProcStat stat) {
    this.stat = stat;
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
    return new Spawned(builder.start());
  }

  /**
   * Takes over a shim a planned restart left running, through {@code connection} (its control socket, past the
   * {@code ATTACHED} line, already checked against the journal and /proc): the shim's lines are read from it on a
   * thread of its own, and {@code exited} gets 0 once the connection ends after the EXIT line, or
   * {@link #CONNECTION_LOST} without it.
   */
  static ShimProcess adopt(SocketChannel connection, WorkerIdentity identity, Consumer<ShimEvent> events,
      WorkerOutput output, IntConsumer exited) {
    output.pid(identity.pid());
    Adopted adopted = new Adopted(connection, identity);
    Thread reader = new Thread(() -> adopted.read(new Handler(events, output, exited)),
        "snakepit-adopted-shim-" + identity.shimPid());
    reader.setDaemon(true);
    reader.start();
    return adopted;
  }

  /** Whether the shim runs (when not, no exit is ever reported). */
  abstract boolean started();

  int pid() {
    return stat.pid();
  }

  /** Writes a command line to the shim (STOP, KILL, DETACH, LEAVE), if it still runs. */
  abstract void send(String line);

  /** SIGKILLs the shim itself. */
  abstract void destroy();

  /** Closes the lifeline: the shim then takes the tree down by itself. */
  abstract void closeLifeline();

  /** SIGKILLs every process of the shim's session that started no earlier than the shim; returns their pids. */
  List<Integer> sweep() {
    return SessionSweep.killSession(stat.pid(), stat.startTime());
  }

  private static byte[] line(String line) {
    return (line + "\n").getBytes(StandardCharsets.US_ASCII);
  }

  /** A shim this JVM spawned: NuProcess holds its pipes. */
  private static final class Spawned extends ShimProcess {
    private final NuProcess process;

    Spawned(NuProcess process) {
      super(stat(process == null ? 0 : process.getPID()));
      this.process = process;
    }

    private static ProcStat stat(int pid) {
      return ProcStat.read(pid).orElse(new ProcStat(pid, '?', 0, pid, pid, 0L));
    }

    @Override
    boolean started() {
      return process != null;
    }

    @Override
    void send(String line) {
      if (process != null && process.isRunning()) {
        process.writeStdin(ByteBuffer.wrap(line(line)));
      }
    }

    @Override
    void destroy() {
      if (process != null) {
        process.destroy(true);
      }
    }

    @Override
    void closeLifeline() {
      if (process != null && process.isRunning()) {
        process.closeStdin(true);
      }
    }
  }

  /**
   * A shim adopted after a planned restart: not this JVM's child, so it is signalled through a pidfd checked against
   * the start time it was adopted with, and its lifeline is the connection (its end stops the tree).
   */
  private static final class Adopted extends ShimProcess {
    private final SocketChannel connection;

    Adopted(SocketChannel connection, WorkerIdentity identity) {
      super(new ProcStat(identity.shimPid(), '?', 0, identity.shimPid(), identity.shimPid(),
          identity.shimStartTime()));
      this.connection = connection;
    }

    @Override
    boolean started() {
      return true;
    }

    @Override
    void send(String line) {
      ByteBuffer buffer = ByteBuffer.wrap(line(line));
      try {
        synchronized (connection) {
          while (buffer.hasRemaining()) {
            connection.write(buffer);
          }
        }
      } catch (IOException gone) {
        // The shim is gone or going: the reader reports its end.
      }
    }

    @Override
    void destroy() {
      Pidfd.open(stat.pid()).ifPresent(handle -> {
        try (handle) {
          if (ProcStat.isAlive(stat.pid(), stat.startTime())) { // checked once the handle pins the process
            handle.signal(9);
          }
        }
      });
    }

    @Override
    void closeLifeline() {
      try {
        connection.close();
      } catch (IOException ignored) {
        // Closed either way: the shim reads EOF.
      }
    }

    /** The reader's loop: the shim's lines until the connection ends, then its exit. */
    void read(Handler handler) {
      ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
      boolean exitSeen = false;
      try {
        while (connection.read(buffer) >= 0) {
          buffer.flip();
          exitSeen = handler.onLines(buffer);
          buffer.clear();
        }
      } catch (IOException closed) {
        // Closed by this JVM (the actor's end) or reset by the shim's: the connection is over either way.
      }
      handler.onStdout(ByteBuffer.allocate(0), true);
      handler.onExit(exitSeen ? 0 : CONNECTION_LOST);
    }
  }

  /**
   * NuProcess callbacks (and the adopted shim's reader): they run on foreign threads and only pass on. Python's
   * output lines never become messages: the worker's {@link WorkerOutput} takes them here, so a flood costs the actor
   * nothing, and the shim's stdout is drained as fast as this thread reads it.
   */
  private static final class Handler extends NuAbstractProcessHandler {
    private final Consumer<ShimEvent> events;
    private final WorkerOutput output;
    private final IntConsumer exited;
    private final ShimLineDecoder decoder = new ShimLineDecoder();
    private final ShimLineDecoder shimStderr = new ShimLineDecoder();
    private final Consumer<ShimEvent> control;
    private boolean exitSeen;

    Handler(Consumer<ShimEvent> events, WorkerOutput output, IntConsumer exited) {
      this.events = events;
      this.output = output;
      this.exited = exited;
      this.control = event -> {
        if (event instanceof ShimEvent.Spawned spawned) {
          output.pid(spawned.pid());
        } else if (event instanceof ShimEvent.Exit) {
          exitSeen = true;
          output.close(); // every line of the worker came before EXIT: its tail is whole when the actor reads it
        }
        events.accept(event);
      };
    }

    /** Feeds the shim's report lines; whether the EXIT line has come. */
    boolean onLines(ByteBuffer buffer) {
      decoder.feed(buffer, control, output);
      return exitSeen;
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
