package io.snakepit.actors.worker;

import java.util.List;

/** Process mode: the shim alone (its session, process group and subreaper) and the pool's rlimits. */
final class ProcessContainment implements Containment {
  private final Isolation isolation;

  ProcessContainment(Isolation isolation) {
    this.isolation = isolation;
  }

  @Override
  public List<String> prepare() {
    return List.of();
  }

  @Override
  public List<String> shimOptions() {
    return Containment.rlimitOptions(isolation);
  }

  @Override
  public List<String> wrap(List<String> python) {
    return python;
  }
}
