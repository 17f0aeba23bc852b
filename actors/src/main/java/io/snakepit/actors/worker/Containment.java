package io.snakepit.actors.worker;

import io.snakepit.shim.Cgroups;
import io.snakepit.shim.HostSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How one worker is contained, as its pool's isolation mode says: one implementation per mode, chosen once by
 * {@link #of(Launch)}. The actor calls {@link #prepare()} before the reservation and {@link #release()} once the tree
 * is gone, both on the blocking dispatcher (they touch cgroupfs, runc and /proc), never on its own thread.
 */
interface Containment {

  /**
   * Makes what the mode needs before the shim is spawned (a cgroup, an OCI bundle), or checks the host has it.
   *
   * @return the cgroup directories to journal with the reservation
   * @throws RuntimeException naming what the host lacks and how to get it
   */
  default List<String> prepare() {
    return List.of();
  }

  /** The shim's options for this worker, before its {@code --}. */
  List<String> shimOptions();

  /** What the shim runs, given Python and the worker's arguments: by default Python itself, as the shim's child. */
  default List<String> wrap(List<String> python) {
    return python;
  }

  /** The cgroup whose counters say whether a limit was hit, when the worker has limits. */
  default Optional<Cgroups.WorkerCgroup> limited() {
    return Optional.empty();
  }

  /** Undoes {@link #prepare()} once the tree is gone (blocking: cgroup removal waits for the kernel). */
  default void release() {}

  /**
   * Takes over what an earlier JVM prepared for a worker this node adopted: {@code cgroups}, as its journal entry
   * holds them, are this containment's from now on, killed and removed by {@link #release()} as if made here.
   */
  default void adopt(List<String> cgroups) {}

  /** The containment of {@code launch}'s worker, by its pool's isolation mode. */
  static Containment of(Launch launch) {
    return switch (launch.settings().isolation().mode()) {
      case PROCESS -> new ProcessContainment(launch.settings().isolation());
      case CGROUP -> new CgroupContainment(launch);
      case NAMESPACES -> new NamespacesContainment(launch);
      case RUNC -> new RuncContainment(launch);
      case SYSTEMD -> new SystemdContainment(launch);
    };
  }

  /** The shim's {@code --rlimit} options (runc sets the container's rlimits itself, from the bundle). */
  static List<String> rlimitOptions(Isolation isolation) {
    List<String> opts = new ArrayList<>();
    isolation.rlimits().forEach((name, value) -> {
      opts.add("--rlimit");
      opts.add(name + "=" + value);
    });
    return opts;
  }

  /** The shim's options that put the worker in {@code cgroup} and kill it there on teardown. */
  static List<String> cgroupOptions(Cgroups.WorkerCgroup cgroup) {
    List<String> opts = new ArrayList<>();
    cgroup.dirs().forEach(dir -> {
      opts.add("--cgroup");
      opts.add(dir.toString());
    });
    opts.addAll(killOptions(cgroup));
    return opts;
  }

  /** The shim's option that kills {@code cgroup}'s cgroup2 directory on teardown, when it has one. */
  static List<String> killOptions(Cgroups.WorkerCgroup cgroup) {
    return cgroup.unified() == null ? List.of() : List.of("--kill-cgroup", cgroup.unified().toString());
  }

  /** Fails, naming the program and its package, when {@code program} cannot be run. */
  static void requireExecutable(String program, String what) {
    if (HostSupport.onPath(program).isEmpty()) {
      throw new IllegalStateException("'" + program + "' is not " + (program.contains("/") ? "an executable file"
          : "on PATH") + ": the isolation mode needs " + what + ". Install it, or set its path in"
          + " snakepit.pool-defaults.isolation");
    }
  }
}
