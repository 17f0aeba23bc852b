package io.snakepit.actors.worker;

import io.snakepit.shim.Cgroups;
import java.util.List;
import java.util.Optional;

/** Runc mode: an OCI bundle per worker, run by runc in the foreground under the shim; runc makes the cgroup. */
final class RuncContainment implements Containment {
  private final Launch launch;
  /** Written by prepare() on the blocking dispatcher, read by the actor after it heard so. */
  private volatile RuncBundle bundle;

  RuncContainment(Launch launch) {
    this.launch = launch;
  }

  @Override
  public List<String> prepare() {
    Isolation isolation = launch.settings().isolation();
    Containment.requireExecutable(isolation.runc().binary(), "runc (e.g. apt-get install runc)");
    bundle = RuncBundle.write(launch, launch.socket().getParent(), isolation.cgroupParent());
    return bundle.cgroup().recorded();
  }

  @Override
  public List<String> shimOptions() {
    return bundle == null ? List.of() : Containment.killOptions(bundle.cgroup());
  }

  @Override
  public List<String> wrap(List<String> python) {
    // The bundle's config.json holds Python's command line; the shim runs runc.
    return bundle.runCommand();
  }

  @Override
  public Optional<Cgroups.WorkerCgroup> limited() {
    return launch.settings().isolation().limits().any() && bundle != null ? Optional.of(bundle.cgroup())
        : Optional.empty();
  }

  @Override
  public void release() {
    RuncBundle made = bundle;
    if (made != null) {
      bundle = null;
      made.delete();
      made.cgroup().kill();
      made.cgroup().remove(CgroupContainment.REMOVAL_WAIT);
    }
  }
}
