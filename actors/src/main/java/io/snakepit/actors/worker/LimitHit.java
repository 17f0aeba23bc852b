package io.snakepit.actors.worker;

import io.snakepit.WorkerCrashedException;
import io.snakepit.shim.Cgroups;
import java.util.Optional;

/**
 * A limit the kernel counted a hit of, in a worker's cgroup: the worker is then killed (its state is unknown), and
 * its end says which limit.
 *
 * @param reason the crash reason its calls fail with
 * @param message how its end is described, with the setting to raise
 */
record LimitHit(WorkerCrashedException.Reason reason, String message) {

  /** The hit {@code counters} show against {@code limits}, if any: memory first, then pids. */
  static Optional<LimitHit> of(Cgroups.Counters counters, Cgroups.Limits limits) {
    if (counters.oomKills() > 0) {
      return Optional.of(new LimitHit(WorkerCrashedException.Reason.MEMORY_LIMIT, "killed: memory limit "
          + Cgroups.bytes(limits.memoryBytes()) + " exceeded (the kernel's OOM killer ended " + counters.oomKills()
          + " process" + (counters.oomKills() == 1 ? "" : "es") + " of the worker; raise"
          + " snakepit.pools.<name>.isolation.limits.memory)"));
    }
    if (counters.pidsRefused() > 0) {
      return Optional.of(new LimitHit(WorkerCrashedException.Reason.PIDS_LIMIT, "killed: pids limit " + limits.pids()
          + " reached (" + counters.pidsRefused() + " forks refused; a fork bomb, or raise"
          + " snakepit.pools.<name>.isolation.limits.pids)"));
    }
    return Optional.empty();
  }
}
