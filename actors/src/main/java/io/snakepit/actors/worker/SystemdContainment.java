package io.snakepit.actors.worker;

import io.snakepit.shim.Cgroups;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Systemd mode: systemd-run makes a transient scope for the worker, then executes Python itself, so Python stays the
 * shim's child. The scope's cgroup is killed as a whole (KillMode=control-group) and carries the limits.
 */
final class SystemdContainment extends ProcessContainment {
  private final Launch launch;

  /** The shim's options are process mode's (rlimits); systemd-run comes between the shim and Python. */
  SystemdContainment(Launch launch) {
    super(launch.settings().isolation());
    this.launch = launch;
  }

  @Override
  public List<String> prepare() {
    requireSystemd();
    Containment.requireExecutable(launch.settings().isolation().systemdRun(), "systemd-run (package systemd)");
    return List.of();
  }

  @Override
  public List<String> wrap(List<String> python) {
    Isolation isolation = launch.settings().isolation();
    Cgroups.Limits limits = isolation.limits();
    List<String> cmd = new ArrayList<>(List.of(isolation.systemdRun(), "--scope", "--quiet", "--collect",
        "--unit=" + unit(), "--property=KillMode=control-group",
        "--description=snakepit worker " + launch.workerId() + " of instance " + launch.instance()));
    if (limits.memoryBytes() > 0) {
      cmd.add("--property=MemoryMax=" + limits.memoryBytes());
      cmd.add("--property=MemorySwapMax=0");
    }
    if (limits.pids() > 0) {
      cmd.add("--property=TasksMax=" + limits.pids());
    }
    if (limits.cpus() > 0) {
      cmd.add("--property=CPUQuota=" + Math.round(limits.cpus() * 100) + "%");
    }
    cmd.add("--");
    cmd.addAll(python);
    return cmd;
  }

  /** The worker's transient unit. */
  String unit() {
    return "snakepit-" + (launch.instance() + "-" + launch.workerId() + "-" + launch.nonce())
        .replaceAll("[^A-Za-z0-9_.-]", "_") + ".scope";
  }

  private static void requireSystemd() {
    if (!Files.isDirectory(Path.of("/run/systemd/system"))) {
      String init;
      try {
        init = Files.readString(Path.of("/proc/1/comm")).trim();
      } catch (IOException e) {
        init = "unknown";
      }
      throw new IllegalStateException("isolation mode 'systemd' needs systemd as PID 1 (a transient scope per"
          + " worker, through systemd-run), but PID 1 here is '" + init + "' and /run/systemd/system does not exist."
          + " Use isolation mode 'cgroup' for the same containment (a cgroup per worker, cgroup.kill, limits)"
          + " without systemd");
    }
  }
}
