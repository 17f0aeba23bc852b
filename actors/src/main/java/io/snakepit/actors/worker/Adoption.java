package io.snakepit.actors.worker;

import io.snakepit.shim.BootId;
import io.snakepit.shim.ProcStat;
import io.snakepit.shim.ShimEvent;
import io.snakepit.shim.WorkerIdentity;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A worker a planned restart left running, taken over by this node (docs/ADOPTION.md): the connection to its shim's
 * control socket, which is its lifeline from now on, and who it is. {@link #attach} makes one only once every check
 * has passed; a worker that fails one is left to the settlement, as any tree an earlier JVM left.
 *
 * @param launch the worker as this node would start it: its id, nonce and socket are the earlier JVM's
 * @param identity the identity the journal holds, which the shim repeated and /proc confirmed
 * @param cgroups the worker's cgroups as the journal holds them (cgroup mode, or namespaces with limits), else none
 * @param connection the control socket's connection, past its {@code ATTACHED} line (blocking mode)
 */
public record Adoption(Launch launch, WorkerIdentity identity, List<String> cgroups, SocketChannel connection) {

  /**
   * Lets go of the worker without taking it: the connection closes, which is its lifeline's end, so the shim stops
   * the tree (with its lifeline grace).
   */
  public void abandon() {
    close(connection);
  }

  /** Why a waiting worker was not adopted: it is settled instead. */
  public static final class Refused extends Exception {
    public Refused(String message) {
      super(message);
    }
  }

  /** The slot's index and the generation its id names ({@code pool-2-5}: slot 2, generation 5), or -1s. */
  public static int[] slotAndGeneration(String workerId) {
    String[] parts = workerId.split("-");
    try {
      return new int[] {Integer.parseInt(parts[parts.length - 2]), Integer.parseInt(parts[parts.length - 1])};
    } catch (RuntimeException e) {
      return new int[] {-1, -1};
    }
  }

  /**
   * Attaches to the shim waiting at {@code controlSocket}, once the worker it names is the one the journal holds
   * ({@code journaled}) and would be started by this node as {@code expected} (same shim, Python, package, adapter
   * and arguments, isolation mode and cgroups, the pool's env and python-path). The checks, in order: the isolation
   * mode and the journaled {@code cgroups}; the boot; the shim and Python alive with their journaled start times,
   * Python in the shim's session; Python's markers in {@code env}, its environment as read from /proc (instance,
   * nonce, worker id, pool); the command lines; then the shim's own {@code ATTACHED} line, which must repeat the
   * journaled identity.
   *
   * @throws Refused naming the check that failed; any connection made is closed (the shim then stops the tree)
   */
  public static Adoption attach(Launch expected, WorkerIdentity journaled, Map<String, String> env,
      List<String> cgroups, Path controlSocket, Duration timeout) throws Refused {
    Isolation.Mode mode = expected.settings().isolation().mode();
    if (mode == Isolation.Mode.RUNC || mode == Isolation.Mode.SYSTEMD) {
      throw new Refused("its pool's isolation mode is " + mode.configName() + ", whose workers are not adopted"
          + " (process, cgroup and namespaces modes' are)");
    }
    Containment containment = Containment.of(expected);
    containment.adopt(cgroups);
    for (String recorded : cgroups) {
      Path dir = Path.of(recorded.substring(recorded.indexOf('=') + 1));
      if (!dir.getFileName().toString().endsWith("-" + expected.nonce()) || !Files.isDirectory(dir)) {
        throw new Refused("its cgroup " + dir + " is gone or not named after it");
      }
    }
    if (!BootId.current().equals(journaled.bootId())) {
      throw new Refused("the host rebooted since (boot id " + journaled.bootId() + ")");
    }
    if (!ProcStat.isAlive(journaled.shimPid(), journaled.shimStartTime())) {
      throw new Refused("its shim (pid " + journaled.shimPid() + ") is gone");
    }
    ProcStat python = ProcStat.read(journaled.pid()).filter(p -> p.startTime() == journaled.startTime()
        && p.state() != 'Z').orElseThrow(() -> new Refused("its Python (pid " + journaled.pid() + ") is gone"));
    if (python.session() != journaled.shimPid()) {
      throw new Refused("pid " + journaled.pid() + " is not in its shim's session");
    }
    Map<String, String> wanted = expected.environment();
    for (String name : List.of(Launch.INSTANCE_VARIABLE, Launch.NONCE_VARIABLE, Launch.WORKER_VARIABLE,
        Launch.POOL_VARIABLE)) {
      if (!Objects.equals(env.get(name), wanted.get(name))) {
        throw new Refused("pid " + journaled.pid() + " carries " + name + "=" + env.get(name) + ", not "
            + wanted.get(name));
      }
    }
    String changed = changedLaunch(expected, containment, journaled, env, wanted);
    if (changed != null) {
      throw new Refused("this node would start it differently (" + changed + "): the pool's settings, the"
          + " Python or the library changed since");
    }
    if (!Files.exists(controlSocket)) {
      throw new Refused("its control socket " + controlSocket + " is gone (its window ended)");
    }
    SocketChannel connection = null;
    try {
      connection = SocketChannel.open(StandardProtocolFamily.UNIX);
      connection.connect(UnixDomainSocketAddress.of(controlSocket));
      String line = firstLine(connection, timeout);
      ShimEvent event = ShimEvent.parse(line);
      if (!(event instanceof ShimEvent.Attached attached)) {
        throw new Refused("its shim answered '" + line + "' instead of ATTACHED");
      }
      if (!attached.identity().equals(journaled)) {
        throw new Refused("its shim says it is " + attached.identity() + ", the journal holds " + journaled);
      }
      if (!attached.ready()) {
        throw new Refused("its shim never reported the worker ready");
      }
      return new Adoption(expected, journaled, List.copyOf(cgroups), connection);
    } catch (IOException e) {
      close(connection);
      throw new Refused("cannot attach to " + controlSocket + ": " + e.getMessage());
    } catch (Refused e) {
      close(connection);
      throw e;
    }
  }

  /**
   * What differs between the worker's command line and environment and what this node would give it, or null. The
   * command line is the shim's whole one (its binary and options, Python, the package, the adapter and every
   * argument; a state file to restore from is not compared); the environment, the pool's {@code env} and PYTHONPATH.
   */
  private static String changedLaunch(Launch expected, Containment containment, WorkerIdentity journaled,
      Map<String, String> env, Map<String, String> now) throws Refused {
    List<String> running = withoutRestoreState(cmdline(journaled.shimPid()));
    List<String> wanted = withoutRestoreState(expected.command(containment));
    if (!running.equals(wanted)) {
      return "its command line is " + String.join(" ", running) + ", now " + String.join(" ", wanted);
    }
    List<String> names = new ArrayList<>(expected.settings().env().keySet());
    names.add("PYTHONPATH");
    for (String name : names) {
      if (!Objects.equals(env.get(name), now.get(name))) {
        return "its " + name + " is " + env.get(name) + ", now " + now.get(name);
      }
    }
    return null;
  }

  private static List<String> withoutRestoreState(List<String> command) {
    List<String> out = new ArrayList<>(command);
    int at = out.indexOf("--restore-state");
    if (at >= 0 && at + 1 < out.size()) {
      out.subList(at, at + 2).clear();
    }
    return out;
  }

  private static List<String> cmdline(int pid) throws Refused {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline"));
      List<String> args = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < raw.length; i++) {
        if (raw[i] == 0) {
          args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
          start = i + 1;
        }
      }
      return args;
    } catch (IOException e) {
      throw new Refused("cannot read the command line of pid " + pid + ": " + e.getMessage());
    }
  }

  /** The first line on {@code connection}, read a byte at a time (what follows it is the shim's to the reader). */
  private static String firstLine(SocketChannel connection, Duration timeout) throws IOException, Refused {
    CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
      ByteBuffer one = ByteBuffer.allocate(1);
      StringBuilder text = new StringBuilder();
      try {
        while (text.length() < 1024) {
          one.clear();
          if (connection.read(one) < 0) {
            return null;
          }
          if (one.get(0) == '\n') {
            return text.toString();
          }
          text.append((char) one.get(0));
        }
      } catch (IOException e) {
        return null;
      }
      return text.toString();
    });
    try {
      String read = line.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (read == null) {
        throw new Refused("its shim closed the connection without a line");
      }
      return read;
    } catch (TimeoutException e) {
      throw new Refused("its shim said nothing within " + timeout.toMillis() + " ms of the connection");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Refused("interrupted while attaching");
    } catch (ExecutionException e) {
      throw new IOException(e.getCause());
    }
  }

  private static void close(SocketChannel connection) {
    if (connection != null) {
      try {
        connection.close();
      } catch (IOException ignored) {
        // Closed either way.
      }
    }
  }
}
