package io.snakepit.actors.worker;

import io.snakepit.shim.Cgroups;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Cgroup mode (and namespaces mode with limits): a cgroup the JVM makes per worker, which the shim joins, kills
 * with {@code cgroup.kill} on teardown, and which carries the limits.
 */
final class CgroupContainment implements Containment {
  /** How long removal waits for the kernel to empty the cgroup after {@code cgroup.kill}. */
  static final Duration REMOVAL_WAIT = Duration.ofSeconds(5);

  private final Launch launch;
  /** Made by prepare() on the blocking dispatcher, read by the actor after it heard so. */
  private volatile Cgroups.WorkerCgroup cgroup;

  CgroupContainment(Launch launch) {
    this.launch = launch;
  }

  @Override
  public List<String> prepare() {
    Isolation isolation = launch.settings().isolation();
    cgroup = Cgroups.create(Cgroups.Layout.detect(), isolation.cgroupParent(),
        launch.instance() + "/" + launch.workerId() + "-" + launch.nonce(), isolation.limits());
    return cgroup.recorded();
  }

  @Override
  public void adopt(List<String> cgroups) {
    if (!cgroups.isEmpty()) {
      cgroup = Cgroups.of(cgroups);
    }
  }

  @Override
  public List<String> shimOptions() {
    List<String> opts = new ArrayList<>(Containment.rlimitOptions(launch.settings().isolation()));
    if (cgroup != null) {
      opts.addAll(Containment.cgroupOptions(cgroup));
    }
    return opts;
  }

  @Override
  public Optional<Cgroups.WorkerCgroup> limited() {
    return launch.settings().isolation().limits().any() ? Optional.ofNullable(cgroup) : Optional.empty();
  }

  @Override
  public void release() {
    Cgroups.WorkerCgroup made = cgroup;
    if (made != null) {
      cgroup = null;
      made.kill();
      made.remove(REMOVAL_WAIT);
    }
  }
}
