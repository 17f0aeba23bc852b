package io.snakepit.actors.worker;

import io.snakepit.persistence.Reaper;
import io.snakepit.python.WorkerPackage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one worker process needs that its pool decides: the shim binary, the unpacked snakepit_worker package,
 * the socket, and the marker that ties the process to this instance.
 *
 * @param shim the shim executable
 * @param workerPackage the directory holding the snakepit_worker package
 * @param socket the worker's Unix socket
 * @param instance this node's instance name, carried in the worker's environment
 * @param workerId the worker's id, carried in the worker's environment
 * @param nonce the worker's unique key in the registry, carried in the environment of its whole tree
 * @param settings the pool's worker settings
 * @param markers further variables that mark the tree (the registry's, which settlement checks)
 * @param restoreState the state the slot's last worker left (UTF-8 JSON from its adapter's snapshot()), for this
 *     one's restore(state); null for none
 */
public record Launch(Path shim, Path workerPackage, Path socket, String instance, String workerId, String nonce,
    WorkerSettings settings, Map<String, String> markers, byte[] restoreState) {

  public Launch {
    markers = Map.copyOf(markers);
  }

  /** A launch that restores no state. */
  public Launch(Path shim, Path workerPackage, Path socket, String instance, String workerId, String nonce,
      WorkerSettings settings, Map<String, String> markers) {
    this(shim, workerPackage, socket, instance, workerId, nonce, settings, markers, null);
  }

  /** The same launch, handing {@code state} (null: none) to the adapter's restore(state). */
  public Launch withRestoreState(byte[] state) {
    return new Launch(shim, workerPackage, socket, instance, workerId, nonce, settings, markers, state);
  }

  /**
   * Where the state to restore is written for the worker to read, beside its socket: {@code w-0-1.state.json}
   * (0600, in the node's private run directory), removed once the worker is ready or gone.
   */
  public Path stateFile() {
    return besideSocket(".state.json");
  }

  /** {@code w-0-1} + {@code suffix}, beside the worker's socket {@code w-0-1.sock}. */
  private Path besideSocket(String suffix) {
    String name = socket.getFileName().toString();
    return socket.resolveSibling((name.endsWith(".sock") ? name.substring(0, name.length() - 5) : name) + suffix);
  }

  /** A launch with no markers beyond the instance, worker and nonce. */
  public Launch(Path shim, Path workerPackage, Path socket, String instance, String workerId, String nonce,
      WorkerSettings settings) {
    this(shim, workerPackage, socket, instance, workerId, nonce, settings, Map.of());
  }

  /** Mark every process of a worker's tree, so that it can be recognised in /proc/PID/environ. */
  public static final String INSTANCE_VARIABLE = Reaper.INSTANCE_VARIABLE;
  public static final String NONCE_VARIABLE = Reaper.NONCE_VARIABLE;
  public static final String WORKER_VARIABLE = "SNAKEPIT_WORKER_ID";
  /** Names the JVM's Host socket (the tool bridge), for snakepit_worker.host. */
  public static final String HOST_SOCKET_VARIABLE = "SNAKEPIT_HOST_SOCKET";
  /** The Host socket's name in the run directory, beside the workers' sockets. */
  public static final String HOST_SOCKET = "host.sock";
  /** Names the worker's pool, among the markers. */
  public static final String POOL_VARIABLE = "SNAKEPIT_POOL";

  /** The worker's pool, as its markers name it ({@code unnamed} for a launch made without). */
  public String pool() {
    return markers.getOrDefault(POOL_VARIABLE, "unnamed");
  }

  /** The shim's command line: Python with the worker's arguments, contained as {@code containment} says. */
  List<String> command(Containment containment) {
    List<String> cmd = new ArrayList<>();
    cmd.add(shim.toString());
    cmd.add("--grace-ms"); // what EOF on the shim's stdin gets: the JVM is gone
    cmd.add(Long.toString(settings.lifelineGrace().toMillis()));
    cmd.addAll(containment.shimOptions());
    cmd.add("--");
    cmd.addAll(containment.wrap(pythonCommand()));
    return cmd;
  }

  /** The node's Host socket, in the run directory with the worker's own: where host.call reaches the JVM. */
  public Path hostSocket() {
    return socket.resolveSibling(HOST_SOCKET);
  }

  /** The worker's calls socket (call-channel = multiplexed), beside its gRPC socket: {@code w-0-1.calls.sock}. */
  public Path callsSocket() {
    return besideSocket(".calls.sock");
  }

  /**
   * Python and the worker's arguments: {@code PYTHON PACKAGE/bin/snakepit_worker --adapter ...}. The worker starts
   * from a script, not with {@code -m}: {@code python -m} puts the working directory first on sys.path, where a
   * {@code grpc.py} or {@code snakepit_worker/} would shadow the real ones, and {@code -P} (which stops that) exists
   * only from Python 3.11.
   */
  public List<String> pythonCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(settings.python());
    cmd.add(WorkerPackage.launcher(workerPackage).toString());
    cmd.add("--adapter");
    cmd.add(settings.adapter());
    cmd.add("--socket");
    cmd.add(socket.toString());
    if (settings.callChannel() == WorkerSettings.CallChannel.MULTIPLEXED) {
      cmd.add("--calls-socket");
      cmd.add(callsSocket().toString());
    }
    cmd.add("--threads");
    cmd.add(Integer.toString(settings.threads()));
    cmd.add("--stop-grace");
    cmd.add(Double.toString(settings.stopGrace().toMillis() / 1000.0));
    cmd.add("--max-message-size");
    cmd.add(Integer.toString(settings.maxMessageSize()));
    cmd.add("--python-logs");
    cmd.add(settings.output().pythonLogs());
    if (restoreState != null) {
      cmd.add("--restore-state");
      cmd.add(stateFile().toString());
    }
    return cmd;
  }

  /**
   * The JVM's variables a worker gets without asking: what programs need to run and to read text (a name ending in
   * {@code *} stands for every name with that prefix). Anything else would hand the node's secrets to every tool.
   */
  public static final List<String> PASSED_VARIABLES = List.of("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE",
      "LC_*", "TZ", "TMPDIR");

  /** The environment: the allowed part of this JVM's, the pool's additions, PYTHONPATH and the instance markers. */
  public Map<String, String> environment() {
    return environment(System.getenv());
  }

  /**
   * The environment of a worker of a JVM whose own environment is {@code inherited}: its {@link #PASSED_VARIABLES}
   * and the pool's {@code pass-env} names, then the pool's {@code env}, then PYTHONPATH (the worker package,
   * {@code python-path}, and a PYTHONPATH of the two before), PYTHONUNBUFFERED, the Host socket and the markers.
   */
  public Map<String, String> environment(Map<String, String> inherited) {
    Map<String, String> env = new HashMap<>();
    inherited.forEach((name, value) -> {
      if (matches(PASSED_VARIABLES, name) || matches(settings.passEnv(), name)) {
        env.put(name, value);
      }
    });
    env.putAll(settings.env());
    List<String> path = new ArrayList<>();
    path.add(workerPackage.toString());
    path.addAll(settings.pythonPath());
    String passed = env.get("PYTHONPATH");
    if (passed != null && !passed.isEmpty()) {
      path.add(passed);
    }
    env.put("PYTHONPATH", String.join(":", path));
    env.put("PYTHONUNBUFFERED", "1");
    env.put(HOST_SOCKET_VARIABLE, hostSocket().toString());
    env.put(INSTANCE_VARIABLE, instance);
    env.put(WORKER_VARIABLE, workerId);
    env.put(NONCE_VARIABLE, nonce);
    env.putAll(markers);
    return env;
  }

  private static boolean matches(List<String> patterns, String name) {
    for (String pattern : patterns) {
      if (pattern.endsWith("*") ? name.startsWith(pattern.substring(0, pattern.length() - 1)) : name.equals(pattern)) {
        return true;
      }
    }
    return false;
  }
}
