package io.snakepit.actors.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.snakepit.shim.Cgroups;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How a pool's workers are contained: the launch mode, the kernel limits, and the rlimits the shim sets. Read from
 * the pool's {@code isolation} block (defaults in reference.conf).
 *
 * @param mode the launch mode
 * @param network {@code host}, or {@code none} for a private loopback only (namespaces and runc modes)
 * @param limits the cgroup limits (cgroup, namespaces, runc and systemd modes)
 * @param rlimits the shim's {@code --rlimit} values by name (as, nofile, cpu, core), in every mode
 * @param cgroupParent where workers' cgroups are made (see {@link Cgroups.Layout})
 * @param runc the runc mode's settings
 * @param systemdRun the systemd-run executable (systemd mode)
 */
public record Isolation(Mode mode, Network network, Cgroups.Limits limits, Map<String, String> rlimits,
    String cgroupParent, Runc runc, String systemdRun) {

  /** The launch modes. */
  public enum Mode {
    /** The shim alone: its session, process group and subreaper. */
    PROCESS,
    /** The shim, and one cgroup per worker (membership, cgroup.kill and limits). */
    CGROUP,
    /** The shim unshares pid, ipc and mount (and net with network = none); a cgroup too when limits are set. */
    NAMESPACES,
    /** An OCI bundle per worker, run by runc (or crun) under the shim. */
    RUNC,
    /** A transient systemd scope per worker, through systemd-run, under the shim. */
    SYSTEMD;

    /** The configuration's spelling. */
    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Mode parse(String s) {
      for (Mode m : values()) {
        if (m.configName().equals(s)) {
          return m;
        }
      }
      throw new IllegalArgumentException("isolation mode '" + s + "' is unknown: use one of process, cgroup,"
          + " namespaces, runc, systemd");
    }
  }

  /** The network a namespaced worker sees. */
  public enum Network { HOST, NONE }

  /**
   * The runc mode.
   *
   * @param binary the OCI runtime (runc, or crun where it works)
   * @param user the uid:gid the worker runs as inside its container
   * @param readOnlyPaths host directories bind-mounted read-only into the container (beyond the worker's own)
   */
  public record Runc(String binary, String user, List<String> readOnlyPaths) {}

  /** The rlimits the configuration may set, by their configuration key, with the shim's name. */
  private static final Map<String, String> RLIMITS = Map.of("address-space", "as", "open-files", "nofile",
      "cpu-seconds", "cpu", "core-size", "core", "processes", "nproc", "file-size", "fsize");

  /** The process mode with no limits. */
  public static final Isolation DEFAULT = new Isolation(Mode.PROCESS, Network.HOST, Cgroups.Limits.NONE, Map.of(),
      "snakepit", new Runc("runc", "0:0", List.of()), "systemd-run");

  /** Reads an {@code isolation} block. */
  public static Isolation fromConfig(Config c) {
    Mode mode = Mode.parse(c.getString("mode"));
    Network network = switch (c.getString("network")) {
      case "auto" -> mode == Mode.RUNC ? Network.NONE : Network.HOST;
      case "host" -> Network.HOST;
      case "none" -> Network.NONE;
      default -> throw new IllegalArgumentException("isolation.network is '" + c.getString("network")
          + "': use auto (none in runc mode, else host), host (the host's network) or none (a private loopback"
          + " only)");
    };
    Cgroups.Limits limits = new Cgroups.Limits(bytesOrOff(c, "limits.memory"), longOrOff(c, "limits.pids"),
        c.getIsNull("limits.cpu") || c.getString("limits.cpu").equals("off") ? 0 : c.getDouble("limits.cpu"));
    Map<String, String> rlimits = new LinkedHashMap<>();
    Config r = c.getConfig("rlimits");
    for (String key : r.root().keySet()) {
      String name = RLIMITS.get(key);
      if (name == null) {
        throw new IllegalArgumentException("isolation.rlimits." + key + " is unknown: use "
            + String.join(", ", RLIMITS.keySet().stream().sorted().toList()));
      }
      String value = r.getString(key);
      if (!value.equals("off")) {
        rlimits.put(name, value.equals("unlimited") ? value
            : Long.toString(key.endsWith("size") || key.equals("address-space") ? r.getBytes(key) : r.getLong(key)));
      }
    }
    if (mode == Mode.PROCESS && limits.any()) {
      throw new IllegalArgumentException("isolation.limits (" + limits.describe() + ") need a cgroup, and isolation"
          + " mode 'process' makes none: set isolation.mode to cgroup, namespaces, runc or systemd, or remove the"
          + " limits (rlimits work in every mode)");
    }
    if (network == Network.NONE && mode != Mode.NAMESPACES && mode != Mode.RUNC) {
      throw new IllegalArgumentException("isolation.network = none needs a network namespace: set isolation.mode"
          + " to namespaces or runc (mode is " + mode.configName() + ")");
    }
    Runc runc = new Runc(c.getString("runc.binary"), c.getString("runc.user"),
        c.getStringList("runc.read-only-paths"));
    if (!runc.user().matches("\\d+:\\d+")) {
      throw new IllegalArgumentException("isolation.runc.user is '" + runc.user() + "': write it as uid:gid, e.g."
          + " 65534:65534");
    }
    return new Isolation(mode, network, limits, Map.copyOf(rlimits), c.getString("cgroup.parent"), runc,
        c.getString("systemd.run"));
  }

  private static long bytesOrOff(Config c, String path) {
    if (c.getIsNull(path) || c.getString(path).equals("off") || c.getString(path).equals("0")) {
      return 0;
    }
    try {
      return c.getBytes(path);
    } catch (ConfigException.BadValue e) {
      throw new IllegalArgumentException("isolation." + path + " is '" + c.getString(path) + "': write a size such"
          + " as 256MiB, or off", e);
    }
  }

  private static long longOrOff(Config c, String path) {
    if (c.getIsNull(path) || c.getString(path).equals("off")) {
      return 0;
    }
    return c.getLong(path);
  }
}
