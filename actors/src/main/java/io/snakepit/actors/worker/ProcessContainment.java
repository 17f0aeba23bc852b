package io.snakepit.actors.worker;

import java.util.List;

/**
 * Process mode: the shim alone (its session, process group and subreaper) and the pool's rlimits. Systemd mode builds
 * on it.
 */
class ProcessContainment implements Containment {
  private final Isolation isolation;

  ProcessContainment(Isolation isolation) {
    this.isolation = isolation;
  }

  @Override
  public List<String> shimOptions() {
    return Containment.rlimitOptions(isolation);
  }
}
