package io.snakepit.shim;

import static io.snakepit.shim.Cgroups.CPU;
import static io.snakepit.shim.Cgroups.MEMORY;
import static io.snakepit.shim.Cgroups.PIDS;

import io.snakepit.shim.Cgroups.CgroupException;
import io.snakepit.shim.Cgroups.Limits;
import io.snakepit.shim.Cgroups.WorkerCgroup;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The cgroup filesystem work behind {@link Cgroups}: making a cgroup's directories (and enabling cgroup2 controllers
 * down to it), writing limits, killing what a cgroup holds, removing it once empty, and reading its files. Every
 * failure that an operator can fix is a {@link CgroupException} naming the path and what to change.
 */
final class CgroupFiles {


  private CgroupFiles() {}

  static void makeDirs(Path dir, List<Path> made, Path enableFrom, List<String> controllers) {
    List<Path> missing = new ArrayList<>();
    for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
      missing.add(0, p);
    }
    int retries = 0;
    for (int i = 0; i < missing.size(); i++) {
      Path p = missing.get(i);
      try {
        Files.createDirectory(p);
        made.add(0, p);
      } catch (FileAlreadyExistsException e) {
        // made meanwhile by another worker of this node
      } catch (NoSuchFileException e) {
        // The parent was removed meanwhile, by the last worker of the instance leaving: make it again.
        if (i > 0 && retries++ < 10) {
          i -= 2; // the parent again, then this one
          continue;
        }
        throw new CgroupException("cannot create the cgroup " + p + " (" + e.getMessage() + ")", e);
      } catch (IOException e) {
        throw new CgroupException("cannot create the cgroup " + p + " (" + e.getMessage() + "). Delegate "
            + p.getParent() + " to this user (chown it, or run the node with Delegate=yes under systemd), or"
            + " point snakepit.pool-defaults.isolation.cgroup.parent at a cgroup it may write", e);
      }
    }
    if (enableFrom != null && !controllers.isEmpty()) {
      // cgroup2: a controller works in a cgroup only when every ancestor enables it for its children. From the
      // configured parent down: above it (the JVM's own cgroup, say) is the delegating side's business, and a cgroup
      // that holds processes cannot enable controllers for children anyway.
      List<Path> chain = new ArrayList<>();
      for (Path p = dir.getParent(); p != null && p.startsWith(enableFrom); p = p.getParent()) {
        chain.add(0, p);
      }
      for (Path p : chain) {
        Path control = p.resolve("cgroup.subtree_control");
        String wanted = String.join(" ", controllers.stream().map(c -> "+" + c).toList());
        try {
          if (!readWords(control).containsAll(controllers)) {
            Files.writeString(control, wanted);
          }
        } catch (IOException e) {
          throw new CgroupException("cannot enable " + wanted + " in " + control + " (" + e.getMessage() + "). The"
              + " controllers must be enabled for " + enableFrom + " by its parent (" + enableFrom.getParent()
              + "/cgroup.subtree_control), and a cgroup2 cgroup that holds processes cannot do that: set"
              + " snakepit.pool-defaults.isolation.cgroup.parent to an absolute, delegated cgroup that holds no"
              + " process (under systemd: DelegateSubgroup=, see docs/deploy/README.md)", e);
        }
      }
    }
  }

  static void writeLimits(WorkerCgroup cg, List<String> v2Controllers) {
    Limits l = cg.limits();
    Path memory = v2Controllers.contains(MEMORY) ? cg.unified() : cg.v1().get(MEMORY);
    Path pids = v2Controllers.contains(PIDS) ? cg.unified() : cg.v1().get(PIDS);
    Path cpu = v2Controllers.contains(CPU) ? cg.unified() : cg.v1().get(CPU);
    if (l.memoryBytes() > 0) {
      boolean v2 = memory.equals(cg.unified());
      write(memory.resolve(v2 ? "memory.max" : "memory.limit_in_bytes"), Long.toString(l.memoryBytes()));
      // Without a swap limit a hog pages out instead of meeting its limit.
      Path swap = memory.resolve(v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
      if (Files.exists(swap)) {
        write(swap, v2 ? "0" : Long.toString(l.memoryBytes()));
      }
    }
    if (l.pids() > 0) {
      write(pids.resolve("pids.max"), Long.toString(l.pids()));
    }
    if (l.cpus() > 0) {
      long period = 100_000;
      long quota = Math.max(1000, Math.round(l.cpus() * period));
      if (cpu.equals(cg.unified())) {
        write(cpu.resolve("cpu.max"), quota + " " + period);
      } else {
        write(cpu.resolve("cpu.cfs_period_us"), Long.toString(period));
        write(cpu.resolve("cpu.cfs_quota_us"), Long.toString(quota));
      }
    }
  }

  private static void write(Path file, String value) {
    try {
      Files.writeString(file, value);
    } catch (IOException e) {
      throw new CgroupException("cannot write " + value + " to " + file + " (" + e.getMessage() + "). Delegate the"
          + " cgroup to this user, or remove the limit", e);
    }
  }

  static void killDirs(List<Path> dirs) {
    for (Path d : dirs) {
      Path kill = d.resolve("cgroup.kill");
      if (Files.exists(kill)) {
        try {
          Files.writeString(kill, "1");
          continue;
        } catch (NoSuchFileException e) {
          continue; // removed meanwhile: empty
        } catch (IOException e) {
          // fall through to the pids
        }
      }
      for (String pid : readWords(d.resolve("cgroup.procs"))) {
        Pidfd.open(Integer.parseInt(pid)).ifPresent(h -> {
          try (h) {
            h.signal(9);
          }
        });
      }
    }
  }

  static void removeDirs(List<Path> dirs, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    for (Path d : dirs) {
      while (Files.isDirectory(d)) {
        try {
          Files.delete(d);
        } catch (IOException e) {
          if (System.nanoTime() > deadline) {
            throw new CgroupException("cgroup " + d + " still holds processes " + readWords(d.resolve("cgroup.procs"))
                + " " + wait.toMillis() + " ms after it was killed: it is left in place", e);
          }
          killDirs(List.of(d));
          try {
            Thread.sleep(5);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /** A "key value" field of a cgroup file such as memory.events; 0 if absent or unreadable. */
  static long field(Path file, String key) {
    try {
      for (String line : Files.readAllLines(file)) {
        String[] kv = line.trim().split("\\s+");
        if (kv.length == 2 && kv[0].equals(key)) {
          return Long.parseLong(kv[1]);
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  static Set<String> readWords(Path file) {
    try {
      String text = Files.readString(file).trim();
      return text.isEmpty() ? Set.of() : Set.of(text.split("\\s+"));
    } catch (IOException e) {
      return Set.of();
    }
  }
}
