package io.snakepit.shim;

import static io.snakepit.shim.HostSupport.LIMIT_CONTROLLERS;

import io.snakepit.shim.HostSupport.CgroupFacts;
import io.snakepit.shim.HostSupport.Facts;
import io.snakepit.shim.HostSupport.LimitProbe;
import io.snakepit.shim.HostSupport.Outcome;
import io.snakepit.shim.HostSupport.Settings;
import io.snakepit.shim.HostSupport.Tool;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The probes behind {@link HostSupport#probe}: each fact is found by trying it (making and removing cgroups, running
 * {@code unshare} and the OCI runtime's {@code --version}) or by reading /proc, never guessed from versions.
 */
final class HostProbe {

  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration REMOVE_WAIT = Duration.ofSeconds(2);
  private static final int CAP_SYS_ADMIN = 21;

  private HostProbe() {}

  /** What this host offers, as a pool with {@code settings} would use it. */
  static Facts facts(Settings settings) {
    String status = readOr(Path.of("/proc/self/status"), "");
    Optional<Path> unshare = HostSupport.onPath("unshare");
    Optional<Path> runtime = HostSupport.onPath(settings.ociRuntime());
    Optional<Path> crun = HostSupport.onPath("crun");
    return new Facts(
        probePidfd(), System.getProperty("os.version", "?"),
        probeCgroups(settings.cgroupParent()),
        unshare.map(u -> run(List.of(u.toString(), "--pid", "--ipc", "--mount", "--net", "--fork", "true"))),
        effectiveUid(status), hasCapability(status, CAP_SYS_ADMIN),
        new Tool(Path.of(settings.ociRuntime()).getFileName().toString(), runtime,
            runtime.map(HostProbe::version).orElse("")),
        new Tool("crun", crun, crun.map(HostProbe::version).orElse("")),
        Files.isDirectory(Path.of("/run/systemd/system")), readOr(Path.of("/proc/1/comm"), "?").trim(),
        settings.systemdRun(), HostSupport.onPath(settings.systemdRun()));
  }

  private static boolean probePidfd() {
    try {
      Pidfd.open((int) ProcessHandle.current().pid()).ifPresent(Pidfd::close);
    } catch (IllegalStateException e) {
      return false;
    }
    return Pidfd.supported();
  }

  private static CgroupFacts probeCgroups(String parent) {
    Cgroups.Layout layout;
    try {
      layout = Cgroups.Layout.detect();
    } catch (IllegalStateException e) {
      return new CgroupFacts(e.getMessage(), Optional.empty(), Set.of(), Map.of(), parent, null, false, Map.of());
    }
    Map<String, Path> v1 = new LinkedHashMap<>();
    LIMIT_CONTROLLERS.stream().filter(layout.v1()::containsKey).forEach(c -> v1.put(c, layout.v1().get(c)));
    if (layout.unified().isEmpty()) {
      return new CgroupFacts(null, Optional.empty(), Set.of(), v1, parent, null, false, Map.of());
    }
    Set<String> offered = layout.unifiedControllers();
    String name = HostSupport.PROBE_PREFIX + ProcessHandle.current().pid() + "-"
        + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    // Cgroups.create makes missing parents and keeps them; the probe must leave none behind.
    List<Path> parents = new ArrayList<>(missing(layout.parentIn(layout.unified().get(), "", parent)));
    v1.forEach((c, mount) -> parents.addAll(missing(layout.parentIn(mount, c, parent))));
    try {
      Outcome membership;
      boolean kill = false;
      try {
        Cgroups.WorkerCgroup probe = Cgroups.create(layout, parent, name, Cgroups.Limits.NONE);
        kill = Files.exists(probe.unified().resolve("cgroup.kill"));
        membership = remove(probe, new Outcome(true, "made and removed " + probe.unified()));
      } catch (RuntimeException e) {
        membership = new Outcome(false, e.getMessage());
      }
      Map<String, LimitProbe> limits = new LinkedHashMap<>();
      for (String c : LIMIT_CONTROLLERS) {
        // Every worker's cgroup starts in cgroup2: where that fails, a limit cannot be tried.
        limits.put(c, membership.ok() ? probeLimit(layout, offered, parent, name + "-" + c, c)
            : new LimitProbe(via(layout, offered, c), new Outcome(false, "not tried: the cgroup probe failed")));
      }
      return new CgroupFacts(null, layout.unified(), offered, v1, parent, membership, kill, limits);
    } finally {
      removeEmpty(parents);
    }
  }

  private static LimitProbe probeLimit(Cgroups.Layout layout, Set<String> offered, String parent, String name,
      String controller) {
    String via = via(layout, offered, controller);
    if (via.equals("none")) {
      return new LimitProbe(via, new Outcome(false, "cgroup2 does not offer it ("
          + layout.unified().get().resolve("cgroup.controllers") + ") and no v1 " + controller
          + " hierarchy is mounted"));
    }
    Cgroups.Limits limits = switch (controller) {
      case Cgroups.MEMORY -> new Cgroups.Limits(1L << 30, 0, 0);
      case Cgroups.PIDS -> new Cgroups.Limits(0, 1024, 0);
      default -> new Cgroups.Limits(0, 0, 1.0);
    };
    Cgroups.WorkerCgroup cg;
    try {
      cg = Cgroups.create(layout, parent, name, limits);
    } catch (RuntimeException e) {
      return new LimitProbe(via, new Outcome(false, e.getMessage()));
    }
    Path dir = via.equals("v1") ? cg.v1().get(controller) : cg.unified();
    return new LimitProbe(via, remove(cg, new Outcome(true, "made, limited (" + limits.describe() + ") and removed "
        + dir)));
  }

  private static String via(Cgroups.Layout layout, Set<String> offered, String controller) {
    return offered.contains(controller) ? "cgroup2" : layout.v1().containsKey(controller) ? "v1" : "none";
  }

  /** Removes a probe cgroup; the outcome becomes a failure if it cannot be removed. */
  private static Outcome remove(Cgroups.WorkerCgroup cg, Outcome outcome) {
    try {
      cg.remove(REMOVE_WAIT);
      return outcome;
    } catch (RuntimeException e) {
      return new Outcome(false, e.getMessage());
    }
  }

  /** The paths from {@code dir} up that do not exist yet, deepest first: the directories a probe may make. */
  private static List<Path> missing(Path dir) {
    List<Path> missing = new ArrayList<>();
    for (Path p = dir; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
      missing.add(p);
    }
    return missing;
  }

  /** Removes those of {@code dirs} that are now (empty) directories; never a file, never a non-empty cgroup. */
  private static void removeEmpty(List<Path> dirs) {
    for (Path d : dirs) {
      if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      try {
        Files.delete(d);
      } catch (IOException e) {
        // Not empty (cgroupfs says EBUSY): a node made a cgroup there meanwhile, and the parent is that node's now.
      }
    }
  }

  /** Runs a short command; its first line of output explains a failure. */
  private static Outcome run(List<String> command) {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    } catch (IOException e) {
      return new Outcome(false, "cannot run " + command.get(0) + ": " + e.getMessage());
    }
    try {
      if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        return new Outcome(false, String.join(" ", command) + " did not finish within "
            + COMMAND_TIMEOUT.toSeconds() + " s and was killed");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.exitValue() == 0 ? new Outcome(true, firstLine(out))
          : new Outcome(false, "exit " + p.exitValue() + (out.isBlank() ? "" : ", " + firstLine(out)));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      return new Outcome(false, "interrupted");
    } catch (IOException e) {
      return new Outcome(false, "cannot read the output of " + command.get(0) + ": " + e.getMessage());
    }
  }

  private static String version(Path executable) {
    Outcome o = run(List.of(executable.toString(), "--version"));
    return o.ok() ? o.detail() : "version unknown (--version: " + o.detail() + ")";
  }

  /** The first non-blank line of {@code text}, trimmed; "" if none. */
  static String firstLine(String text) {
    return text.lines().map(String::trim).filter(l -> !l.isEmpty()).findFirst().orElse("");
  }

  /** The effective uid in a /proc/PID/status text (the second field of its Uid: line); -1 if absent. */
  static int effectiveUid(String status) {
    return status.lines().filter(l -> l.startsWith("Uid:")).findFirst()
        .map(l -> l.substring(4).trim().split("\\s+")).filter(f -> f.length >= 2)
        .map(f -> Integer.parseInt(f[1])).orElse(-1);
  }

  /** Whether a /proc/PID/status text's effective capability set (CapEff:, hex) holds capability {@code bit}. */
  static boolean hasCapability(String status, int bit) {
    return status.lines().filter(l -> l.startsWith("CapEff:")).findFirst()
        .map(l -> (Long.parseUnsignedLong(l.substring(7).trim(), 16) >>> bit & 1) == 1).orElse(false);
  }

  private static String readOr(Path file, String otherwise) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return otherwise;
    }
  }
}
