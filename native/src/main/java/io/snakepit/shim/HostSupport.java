package io.snakepit.shim;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which isolation modes this host supports, and why not where it does not: each fact is probed for real, not
 * guessed from versions.
 *
 * <p>{@link #probe} makes and removes cgroups under the configured parent (named {@value #PROBE_PREFIX}...; every
 * directory it makes is removed before it returns, parents included, even when a step fails), runs {@code unshare}
 * and the OCI runtime's {@code --version}, and reads /proc. It starts no container and no systemd unit. Probing a
 * limit that cgroup2 holds may enable that controller in the parent's {@code cgroup.subtree_control}, as a node's
 * first worker would. It blocks for up to a few seconds; call it from any thread but an actor's.
 *
 * @param checks the facts, in the order they are printed
 * @param modes one verdict per isolation mode, in {@link #MODES} order
 * @param cgroups where each limit's controller comes from
 */
public record HostSupport(List<Check> checks, List<Verdict> modes, CgroupSummary cgroups) {

  /** The isolation modes, spelled as in the configuration. */
  public static final List<String> MODES = List.of("process", "cgroup", "namespaces", "runc", "systemd");
  /** The start of every probe cgroup's name. */
  public static final String PROBE_PREFIX = "snakepit-doctor-";

  /** The controllers of the limits a worker can have, in the order they are reported. */
  static final List<String> LIMIT_CONTROLLERS = List.of(Cgroups.MEMORY, Cgroups.PIDS, Cgroups.CPU);

  /**
   * What the probe is asked about, as a pool would be configured.
   *
   * @param cgroupParent where workers' cgroups go (isolation.cgroup.parent)
   * @param ociRuntime the runc mode's runtime (isolation.runc.binary)
   * @param systemdRun the systemd mode's systemd-run (isolation.systemd.run)
   */
  public record Settings(String cgroupParent, String ociRuntime, String systemdRun) {
    public static final Settings DEFAULT = new Settings("snakepit", "runc", "systemd-run");
  }

  /** One fact: a name, whether it holds, and what was seen or what to do. */
  public record Check(String name, boolean ok, String detail) {
    /** {@code check NAME: ok: DETAIL} or {@code check NAME: no: DETAIL}. */
    public String line() {
      return "check " + name + ": " + (ok ? "ok" : "no") + ": " + detail;
    }
  }

  /** Whether one isolation mode works here: if so, with what; if not, why not. */
  public record Verdict(String mode, boolean supported, String detail) {
    /** {@code mode NAME: supported (DETAIL)} or {@code mode NAME: not supported: DETAIL}. */
    public String line() {
      return "mode " + mode + ": " + (!supported ? "not supported: " + detail
          : detail.isEmpty() ? "supported" : "supported (" + detail + ")");
    }
  }

  /**
   * The host's cgroups as a limit sees them.
   *
   * @param unified the cgroup2 mount, if any
   * @param controllers the controllers cgroup2 offers at its root
   * @param hybrid whether cgroup2 is mounted but a limit's controller lives in a v1 hierarchy
   * @param limits for memory, pids and cpu: where the controller comes from, and whether a limit could be set
   */
  public record CgroupSummary(Optional<Path> unified, Set<String> controllers, boolean hybrid,
      Map<String, Limit> limits) {}

  /**
   * Where one limit's controller comes from.
   *
   * @param via {@code cgroup2}, {@code v1} or {@code none}
   * @param works whether a probe cgroup took the limit
   */
  public record Limit(String via, boolean works) {}

  /** The verdict on {@code mode}, if it is one of {@link #MODES}. */
  public Optional<Verdict> mode(String mode) {
    return modes.stream().filter(v -> v.mode().equals(mode)).findFirst();
  }

  /** The report as text: one line per check, a blank line, one line per mode. */
  public List<String> lines() {
    List<String> lines = new ArrayList<>();
    checks.forEach(c -> lines.add(c.line()));
    lines.add("");
    modes.forEach(v -> lines.add(v.line()));
    return lines;
  }

  /** Probes this host. */
  public static HostSupport probe(Settings settings) {
    return judge(HostProbe.facts(settings));
  }

  // ---- What was found: plain values, so that judging them is a pure function (and tested as one).

  /** The outcome of one probe: whether it worked, and what was seen or what failed. */
  record Outcome(boolean ok, String detail) {}

  /** An executable, where it was found on PATH (if it was), and its version's first line. */
  record Tool(String name, Optional<Path> path, String version) {}

  /**
   * The cgroup probe's findings.
   *
   * @param unreadable why the layout could not be read at all, or null
   * @param unified the cgroup2 mount, if any
   * @param offered the controllers cgroup2 offers at its root
   * @param v1 the v1 hierarchies of the limits' controllers, by controller
   * @param parent the probe cgroup's parent, as configured
   * @param membership making and removing a plain probe cgroup in cgroup2 (null without cgroup2)
   * @param kill whether that cgroup had a {@code cgroup.kill}
   * @param limits per limit controller: where it comes from, and making a probe cgroup with that limit
   */
  record CgroupFacts(String unreadable, Optional<Path> unified, Set<String> offered, Map<String, Path> v1,
      String parent, Outcome membership, boolean kill, Map<String, LimitProbe> limits) {}

  /** One limit's probe: {@code via} is cgroup2, v1 or none. */
  record LimitProbe(String via, Outcome outcome) {}

  /**
   * Everything the probe found.
   *
   * @param unshare running {@code unshare --pid --ipc --mount --net --fork true}; empty if unshare is not on PATH
   */
  record Facts(boolean pidfd, String kernel, CgroupFacts cgroup, Optional<Outcome> unshare, int euid,
      boolean capSysAdmin, Tool runtime, Tool crun, boolean systemdIsPid1, String pid1Comm, String systemdRunName,
      Optional<Path> systemdRun) {

    boolean privileged() {
      return euid == 0 || capSysAdmin;
    }

    boolean hybrid() {
      return cgroup.unified().isPresent()
          && cgroup.limits().values().stream().anyMatch(l -> l.via().equals("v1"));
    }
  }

  /** The checks and the verdicts that {@code facts} add up to. */
  static HostSupport judge(Facts facts) {
    Map<String, Limit> limits = new LinkedHashMap<>();
    facts.cgroup().limits().forEach((c, l) -> limits.put(c, new Limit(l.via(), l.outcome().ok())));
    return new HostSupport(HostVerdicts.checks(facts), HostVerdicts.verdicts(facts),
        new CgroupSummary(facts.cgroup().unified(), facts.cgroup().offered(), facts.hybrid(),
            Collections.unmodifiableMap(limits)));
  }

  /** {@code name} itself when it holds a slash, else the first executable of that name on {@code path}. */
  static Optional<Path> onPath(String name, String path) {
    if (name.contains("/")) {
      return Optional.of(Path.of(name)).filter(Files::isExecutable);
    }
    for (String dir : path.split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /** {@code name} itself when it holds a slash, else the first executable of that name on this process's PATH. */
  public static Optional<Path> onPath(String name) {
    return onPath(name, Optional.ofNullable(System.getenv("PATH")).orElse("/usr/local/bin:/usr/bin:/bin"));
  }
}
