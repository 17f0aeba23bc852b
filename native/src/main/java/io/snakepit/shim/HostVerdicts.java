package io.snakepit.shim;

import static io.snakepit.shim.HostSupport.LIMIT_CONTROLLERS;

import io.snakepit.shim.HostSupport.Check;
import io.snakepit.shim.HostSupport.CgroupFacts;
import io.snakepit.shim.HostSupport.Facts;
import io.snakepit.shim.HostSupport.LimitProbe;
import io.snakepit.shim.HostSupport.Tool;
import io.snakepit.shim.HostSupport.Verdict;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The checks and the verdicts that a host's {@link HostSupport.Facts} add up to, worded for the operator who reads
 * them: what was seen, and what to do where something is missing. Pure functions, tested as such.
 */
final class HostVerdicts {


  private HostVerdicts() {}

  /** One line per fact, in the order they are printed. */
  static List<Check> checks(Facts f) {
    List<Check> checks = new ArrayList<>();
    checks.add(new Check("pidfd", f.pidfd(), f.pidfd() ? "pidfd_open works on Linux " + f.kernel()
        : "Linux " + f.kernel() + " has no pidfd_open (5.3 or newer has): signals go by pid after a /proc check"));

    CgroupFacts cg = f.cgroup();
    if (cg.unreadable() != null) {
      checks.add(new Check("cgroup2", false, cg.unreadable()));
    } else if (cg.unified().isEmpty()) {
      checks.add(new Check("cgroup2", false, "not mounted (/proc/self/mountinfo lists no cgroup2); mount it, e.g."
          + " 'mount -t cgroup2 none /sys/fs/cgroup/unified'"));
    } else {
      Path unified = cg.unified().get();
      checks.add(new Check("cgroup2", true, "mounted at " + unified));
      checks.add(new Check("cgroup probe", cg.membership().ok(), "parent '" + cg.parent() + "': "
          + cg.membership().detail()));
      if (cg.membership().ok()) {
        checks.add(new Check("cgroup.kill", cg.kill(), cg.kill()
            ? "present in the probe cgroup: a worker's whole tree is killed with one write"
            : "missing in the probe cgroup (Linux 5.14 or newer has it): a cgroup's processes are killed one"
            + " by one"));
      }
      List<String> fromV1 = LIMIT_CONTROLLERS.stream().filter(c -> cg.limits().get(c).via().equals("v1")).toList();
      String offered = "offers [" + String.join(" ", new TreeSet<>(cg.offered())) + "] in "
          + unified.resolve("cgroup.controllers");
      checks.add(new Check("cgroup2 controllers", cg.offered().containsAll(LIMIT_CONTROLLERS), fromV1.isEmpty()
          ? offered : offered + "; " + String.join(", ", fromV1) + " come from v1 hierarchies (hybrid layout)"));
      for (String c : LIMIT_CONTROLLERS) {
        LimitProbe l = cg.limits().get(c);
        String where = switch (l.via()) {
          case "cgroup2" -> "via cgroup2: ";
          case "v1" -> "via v1 (" + cg.v1().get(c) + "): ";
          default -> "";
        };
        checks.add(new Check("limit " + c, l.outcome().ok(), where + l.outcome().detail()));
      }
    }

    String tried = "unshare --pid --ipc --mount --net --fork true";
    checks.add(f.unshare().map(o -> new Check("namespaces", o.ok(), tried + (o.ok() ? " worked" : ": " + o.detail())))
        .orElse(new Check("namespaces", false, "util-linux 'unshare' is not on PATH, so unsharing was not tried"
            + " (apt-get install util-linux)")));
    checks.add(new Check("privileges", f.privileged(), f.euid() == 0 ? "euid 0 (root)"
        : "euid " + f.euid() + (f.capSysAdmin() ? " with CAP_SYS_ADMIN" : " without CAP_SYS_ADMIN: namespaces and"
        + " runc modes need root")));

    Tool rt = f.runtime();
    checks.add(new Check(rt.name(), rt.path().isPresent(), rt.path().map(p -> "present at " + p + ": "
        + rt.version() + " (no container was started)").orElse("'" + rt.name() + "' is not on PATH" + runtimeFix(rt))));
    if (!rt.name().equals("crun")) {
      Tool crun = f.crun();
      checks.add(new Check("crun", crun.path().isPresent(), crun.path().map(p -> "present at " + p + ": "
          + crun.version() + (f.hybrid() ? "; it fails on a hybrid cgroup layout like this one: keep runc" : ""))
          .orElse("not on PATH (optional: runc mode uses runc by default)")));
    }

    checks.add(new Check("systemd", f.systemdIsPid1(), f.systemdIsPid1() ? "PID 1 is systemd (/run/systemd/system"
        + " exists)" : "PID 1 is '" + f.pid1Comm() + "', not systemd (/run/systemd/system does not exist)"));
    checks.add(new Check("systemd-run", f.systemdRun().isPresent(), f.systemdRun().map(p -> "present at " + p)
        .orElse("'" + f.systemdRunName() + "' is not on PATH (apt-get install systemd, or set"
            + " snakepit.pool-defaults.isolation.systemd.run)")));
    return checks;
  }

  /** One verdict per isolation mode, in {@link HostSupport#MODES} order. */
  static List<Verdict> verdicts(Facts f) {
    List<Verdict> v = new ArrayList<>();
    v.add(new Verdict("process", true, f.pidfd() ? "" : "no pidfd: signals go by pid after a /proc check"));
    v.add(cgroupVerdict(f.cgroup()));
    v.add(namespacesVerdict(f));
    v.add(runcVerdict(f));
    v.add(systemdVerdict(f));
    return v;
  }

  private static Verdict cgroupVerdict(CgroupFacts cg) {
    if (cg.unreadable() != null) {
      return new Verdict("cgroup", false, cg.unreadable());
    }
    if (cg.unified().isEmpty()) {
      return new Verdict("cgroup", false, "no cgroup2 is mounted (it gives membership and cgroup.kill)");
    }
    if (!cg.membership().ok()) {
      return new Verdict("cgroup", false, cg.membership().detail());
    }
    List<String> limits = new ArrayList<>();
    for (String c : LIMIT_CONTROLLERS) {
      LimitProbe l = cg.limits().get(c);
      limits.add(l.outcome().ok() ? c + " via " + l.via() : c + " not possible");
    }
    return new Verdict("cgroup", true, "limits: " + String.join(", ", limits)
        + (cg.kill() ? "" : "; no cgroup.kill: processes are killed one by one"));
  }

  private static Verdict namespacesVerdict(Facts f) {
    if (!f.privileged()) {
      return new Verdict("namespaces", false, "it needs root or CAP_SYS_ADMIN, and this runs as euid " + f.euid()
          + " without CAP_SYS_ADMIN");
    }
    return f.unshare().map(o -> o.ok() ? new Verdict("namespaces", true, "")
            : new Verdict("namespaces", false, "unshare of pid, ipc, mount and net failed: " + o.detail()))
        .orElse(new Verdict("namespaces", true, "not tried: util-linux 'unshare' is not on PATH"));
  }

  private static Verdict runcVerdict(Facts f) {
    Tool rt = f.runtime();
    if (rt.path().isEmpty()) {
      return new Verdict("runc", false, "'" + rt.name() + "' is not on PATH" + runtimeFix(rt));
    }
    if (f.euid() != 0) {
      return new Verdict("runc", false, "runc mode runs its containers as root, and this runs as euid " + f.euid());
    }
    if (rt.name().equals("crun") && f.hybrid()) {
      return new Verdict("runc", false, "the runtime is crun, which fails on a hybrid cgroup layout like this one:"
          + " set snakepit.pool-defaults.isolation.runc.binary = runc");
    }
    return new Verdict("runc", true, rt.version() + " at " + rt.path().get() + "; no container was started");
  }

  private static Verdict systemdVerdict(Facts f) {
    if (!f.systemdIsPid1()) {
      return new Verdict("systemd", false, "PID 1 is '" + f.pid1Comm() + "', not systemd");
    }
    if (f.systemdRun().isEmpty()) {
      return new Verdict("systemd", false, "'" + f.systemdRunName() + "' is not on PATH");
    }
    return new Verdict("systemd", true, "transient scopes through " + f.systemdRun().get()
        + (f.euid() == 0 ? "" : "; as euid " + f.euid() + " a polkit rule must let this user manage units"));
  }

  private static String runtimeFix(Tool rt) {
    return " (apt-get install " + rt.name() + ", or set snakepit.pool-defaults.isolation.runc.binary)";
  }
}
