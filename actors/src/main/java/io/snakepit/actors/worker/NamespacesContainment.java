package io.snakepit.actors.worker;

import io.snakepit.shim.Cgroups;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Namespaces mode: the shim unshares pid, ipc and mount (and net with network = none), so the namespace's init dies
 * with the shim and the kernel ends the rest; with limits, a cgroup of the JVM's too, as in cgroup mode.
 */
final class NamespacesContainment implements Containment {
  private final Isolation isolation;
  /** Cgroup mode's containment when the pool sets limits, else process mode's (rlimits only). */
  private final Containment base;

  NamespacesContainment(Launch launch) {
    this.isolation = launch.settings().isolation();
    this.base = isolation.limits().any() ? new CgroupContainment(launch) : new ProcessContainment(isolation);
  }

  @Override
  public List<String> prepare() {
    return base.prepare();
  }

  @Override
  public void adopt(List<String> cgroups) {
    base.adopt(cgroups);
  }

  @Override
  public List<String> shimOptions() {
    List<String> opts = new ArrayList<>(base.shimOptions());
    opts.add("--unshare");
    opts.add(isolation.network() == Isolation.Network.NONE ? "pid,ipc,mount,net" : "pid,ipc,mount");
    return opts;
  }

  @Override
  public Optional<Cgroups.WorkerCgroup> limited() {
    return base.limited();
  }

  @Override
  public void release() {
    base.release();
  }
}
