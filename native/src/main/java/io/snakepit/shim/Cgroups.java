package io.snakepit.shim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The host's control groups: where the hierarchies are mounted, and one cgroup per worker in them.
 *
 * <p>A worker's cgroup lives in cgroup2 (membership and {@code cgroup.kill}) and, for each limit cgroup2 cannot
 * enforce here (its controller is not available there, as on a hybrid layout), in that controller's v1 hierarchy.
 * The same relative path is used in every hierarchy.
 */
public final class Cgroups {
  /** The controllers a worker's limits use. */
  public static final String MEMORY = "memory";
  public static final String PIDS = "pids";
  public static final String CPU = "cpu";
  /** The key of the cgroup2 directory in {@link WorkerCgroup#recorded()}. */
  public static final String UNIFIED = "unified";

  private Cgroups() {}

  /**
   * Where the hierarchies are mounted.
   *
   * @param unified the cgroup2 mount, if any
   * @param v1 each v1 hierarchy's mount, by controller name (a named hierarchy by its name, e.g. systemd)
   * @param own the JVM's own cgroup in each hierarchy ("" for cgroup2), relative to its mount
   */
  public record Layout(Optional<Path> unified, Map<String, Path> v1, Map<String, String> own) {

    /** Reads /proc/self/mountinfo and /proc/self/cgroup. */
    public static Layout detect() {
      Path unified = null;
      Map<String, Path> v1 = new LinkedHashMap<>();
      try {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
          int dash = line.indexOf(" - ");
          if (dash < 0) {
            continue;
          }
          String[] before = line.substring(0, dash).split(" ");
          String[] after = line.substring(dash + 3).split(" ");
          if (before.length < 5 || after.length < 3) {
            continue;
          }
          Path mount = Path.of(before[4].replace("\\040", " "));
          if (after[0].equals("cgroup2") && unified == null) {
            unified = mount;
          } else if (after[0].equals("cgroup")) {
            for (String option : after[2].split(",")) {
              if (!Set.of("rw", "ro", "clone_children", "noprefix", "xattr", "cpuset_v2_mode").contains(option)) {
                v1.putIfAbsent(option.replaceFirst("^name=", ""), mount);
              }
            }
          }
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot read /proc/self/mountinfo: " + e.getMessage(), e);
      }
      Map<String, String> own = new LinkedHashMap<>();
      try {
        for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
          String[] parts = line.split(":", 3);
          if (parts.length < 3) {
            continue;
          }
          String path = parts[2].equals("/") ? "" : parts[2];
          if (parts[1].isEmpty()) {
            own.put("", path);
          } else {
            for (String controller : parts[1].split(",")) {
              own.put(controller, path);
            }
          }
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot read /proc/self/cgroup: " + e.getMessage(), e);
      }
      return new Layout(Optional.ofNullable(unified), Map.copyOf(v1), Map.copyOf(own));
    }

    /** The controllers cgroup2 offers at its root (empty on a hybrid layout, where v1 holds them). */
    public Set<String> unifiedControllers() {
      return unified.map(u -> CgroupFiles.readWords(u.resolve("cgroup.controllers"))).orElse(Set.of());
    }

    /**
     * The directory that {@code parent} names in one hierarchy: an absolute parent is taken from the hierarchy's
     * root, a relative one from the JVM's own cgroup there.
     */
    Path parentIn(Path mount, String controller, String parent) {
      String base = parent.startsWith("/") ? "" : own.getOrDefault(controller, "");
      return Path.of(mount + base + "/" + parent.replaceAll("^/+", "")).normalize();
    }
  }

  /**
   * Limits of one worker; zero means none.
   *
   * @param memoryBytes memory (RSS and page cache; swap is held at zero where the kernel allows)
   * @param pids processes and threads at once
   * @param cpus CPU time, in CPUs (0.5 = half of one CPU)
   */
  public record Limits(long memoryBytes, long pids, double cpus) {
    public static final Limits NONE = new Limits(0, 0, 0);

    public boolean any() {
      return memoryBytes > 0 || pids > 0 || cpus > 0;
    }

    /** "memory 256 MiB, pids 64, cpu 0.5" for messages. */
    public String describe() {
      List<String> parts = new ArrayList<>();
      if (memoryBytes > 0) {
        parts.add("memory " + bytes(memoryBytes));
      }
      if (pids > 0) {
        parts.add("pids " + pids);
      }
      if (cpus > 0) {
        parts.add("cpu " + cpus);
      }
      return parts.isEmpty() ? "none" : String.join(", ", parts);
    }
  }

  /** A cgroup could not be made or used; the message names the path and what to change. */
  public static final class CgroupException extends RuntimeException {
    public CgroupException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * What the kernel counted in a worker's cgroup.
   *
   * @param oomKills processes the OOM killer ended because the memory limit was reached
   * @param pidsRefused forks refused because the pids limit was reached
   */
  public record Counters(long oomKills, long pidsRefused) {
    public static final Counters NONE = new Counters(0, 0);

    public boolean any() {
      return oomKills > 0 || pidsRefused > 0;
    }
  }

  /**
   * One worker's cgroup.
   *
   * @param unified its cgroup2 directory (membership, cgroup.kill), null if cgroup2 is not mounted
   * @param v1 its directory in each v1 hierarchy that holds one of its limits, by controller
   * @param limits its limits
   */
  public record WorkerCgroup(Path unified, Map<String, Path> v1, Limits limits) {

    /** Every directory, cgroup2 first: what the shim joins and the journal records. */
    public List<Path> dirs() {
      List<Path> dirs = new ArrayList<>();
      if (unified != null) {
        dirs.add(unified);
      }
      dirs.addAll(v1.values());
      return dirs;
    }

    /** The form the journal keeps: {@code unified=DIR}, then {@code CONTROLLER=DIR} for each v1 directory. */
    public List<String> recorded() {
      List<String> r = new ArrayList<>();
      if (unified != null) {
        r.add(UNIFIED + "=" + unified);
      }
      v1.forEach((controller, dir) -> r.add(controller + "=" + dir));
      return r;
    }

    /** Where a controller's files are for this worker (cgroup2 when it holds the controller). */
    private Optional<Path> controllerDir(String controller) {
      if (v1.containsKey(controller)) {
        return Optional.of(v1.get(controller));
      }
      return Optional.ofNullable(unified).filter(u -> Files.exists(u.resolve(controller + ".max")));
    }

    /** The kernel's counts of limit hits so far; zeros for a limit not set or a cgroup already gone. */
    public Counters counters() {
      long oom = controllerDir(MEMORY).map(d -> Files.exists(d.resolve("memory.events"))
          ? CgroupFiles.field(d.resolve("memory.events"), "oom_kill") : CgroupFiles.field(d.resolve("memory.oom_control"), "oom_kill"))
          .orElse(0L);
      long pids = controllerDir(PIDS).map(d -> CgroupFiles.field(d.resolve("pids.events"), "max")).orElse(0L);
      return new Counters(oom, pids);
    }

    /** Whether a process is still in it (a cgroup that is gone is empty). */
    public boolean populated() {
      for (Path d : dirs()) {
        Path events = d.resolve("cgroup.events");
        if (Files.exists(events) ? CgroupFiles.field(events, "populated") > 0 : !CgroupFiles.readWords(d.resolve("cgroup.procs")).isEmpty()) {
          return true;
        }
      }
      return false;
    }

    /** SIGKILLs everything in it: cgroup.kill where the kernel has it, else each listed process through a pidfd. */
    public void kill() {
      CgroupFiles.killDirs(dirs());
    }

    /**
     * Kills what is left, waits until it is empty (at most {@code wait}), then removes its directories, and their
     * parents (the instance's directory) when no other worker is left in them.
     */
    public void remove(Duration wait) {
      CgroupFiles.removeDirs(dirs(), wait);
      for (Path d : dirs()) {
        try {
          Files.deleteIfExists(d.getParent());
        } catch (IOException e) {
          // another worker's cgroup is still in it
        }
      }
    }
  }

  /**
   * Makes one worker's cgroup under {@code parent} (see {@link Layout#parentIn}), named {@code name} (which may hold
   * slashes), and writes its limits.
   *
   * @throws CgroupException naming the path and what to delegate when the directories cannot be made or written
   */
  public static WorkerCgroup create(Layout layout, String parent, String name, Limits limits) {
    if (layout.unified().isEmpty()) {
      throw new CgroupException("cgroup mode needs cgroup2 (for membership and cgroup.kill), and no cgroup2 is"
          + " mounted on this host (see /proc/self/mountinfo). Mount it (mount -t cgroup2 none /sys/fs/cgroup/unified)"
          + " or use isolation mode 'process' or 'namespaces'", null);
    }
    Set<String> v2Controllers = layout.unifiedControllers();
    Map<String, Path> v1 = new LinkedHashMap<>();
    List<String> v2Wanted = new ArrayList<>();
    for (String controller : List.of(MEMORY, PIDS, CPU)) {
      boolean wanted = switch (controller) {
        case MEMORY -> limits.memoryBytes() > 0;
        case PIDS -> limits.pids() > 0;
        default -> limits.cpus() > 0;
      };
      if (!wanted) {
        continue;
      }
      if (v2Controllers.contains(controller)) {
        v2Wanted.add(controller);
      } else if (layout.v1().containsKey(controller)) {
        Path mount = layout.v1().get(controller);
        v1.put(controller, layout.parentIn(mount, controller, parent).resolve(name));
      } else {
        throw new CgroupException("a " + controller + " limit is set, but this host has no " + controller
            + " controller: cgroup2 offers [" + String.join(" ", v2Controllers) + "] in "
            + layout.unified().get().resolve("cgroup.controllers") + " and no v1 " + controller
            + " hierarchy is mounted. Enable the controller, or remove the limit", null);
      }
    }
    Path unifiedParent = layout.parentIn(layout.unified().get(), "", parent);
    Path unified = unifiedParent.resolve(name);
    List<Path> made = new ArrayList<>();
    try {
      CgroupFiles.makeDirs(unified, made, unifiedParent, v2Wanted);
      for (Path dir : v1.values()) {
        CgroupFiles.makeDirs(dir, made, null, List.of());
      }
      WorkerCgroup cg = new WorkerCgroup(unified, Map.copyOf(v1), limits);
      CgroupFiles.writeLimits(cg, v2Wanted);
      return cg;
    } catch (CgroupException e) {
      CgroupFiles.removeDirs(made, Duration.ofSeconds(1));
      throw e;
    }
  }

  /** Rebuilds a worker's cgroup from its {@link WorkerCgroup#recorded()} form, to kill and remove it. */
  public static WorkerCgroup of(List<String> recorded) {
    Path unified = null;
    Map<String, Path> v1 = new LinkedHashMap<>();
    for (String r : recorded) {
      int eq = r.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("not a recorded cgroup (controller=path): " + r);
      }
      String controller = r.substring(0, eq);
      Path dir = Path.of(r.substring(eq + 1));
      if (controller.equals(UNIFIED)) {
        unified = dir;
      } else {
        v1.put(controller, dir);
      }
    }
    return new WorkerCgroup(unified, Map.copyOf(v1), Limits.NONE);
  }

  /** "256 MiB" */
  public static String bytes(long n) {
    if (n % (1L << 30) == 0) {
      return (n >> 30) + " GiB";
    }
    if (n % (1L << 20) == 0) {
      return (n >> 20) + " MiB";
    }
    if (n % (1L << 10) == 0) {
      return (n >> 10) + " KiB";
    }
    return n + " bytes";
  }
}
