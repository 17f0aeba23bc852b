package io.snakepit.shim;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

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

  private static final List<String> LIMIT_CONTROLLERS = List.of(Cgroups.MEMORY, Cgroups.PIDS, Cgroups.CPU);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration REMOVE_WAIT = Duration.ofSeconds(2);
  private static final int CAP_SYS_ADMIN = 21;

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
    String status = readOr(Path.of("/proc/self/status"), "");
    Optional<Path> unshare = onPath("unshare");
    Optional<Path> runtime = onPath(settings.ociRuntime());
    Optional<Path> crun = onPath("crun");
    Facts facts = new Facts(
        probePidfd(), System.getProperty("os.version", "?"),
        probeCgroups(settings.cgroupParent()),
        unshare.map(u -> run(List.of(u.toString(), "--pid", "--ipc", "--mount", "--net", "--fork", "true"))),
        effectiveUid(status), hasCapability(status, CAP_SYS_ADMIN),
        new Tool(Path.of(settings.ociRuntime()).getFileName().toString(), runtime,
            runtime.map(HostSupport::version).orElse("")),
        new Tool("crun", crun, crun.map(HostSupport::version).orElse("")),
        Files.isDirectory(Path.of("/run/systemd/system")), readOr(Path.of("/proc/1/comm"), "?").trim(),
        settings.systemdRun(), onPath(settings.systemdRun()));
    return judge(facts);
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
    return new HostSupport(checks(facts), verdicts(facts),
        new CgroupSummary(facts.cgroup().unified(), facts.cgroup().offered(), facts.hybrid(),
            Collections.unmodifiableMap(limits)));
  }

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

  // ---- Probes.

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
    String name = PROBE_PREFIX + ProcessHandle.current().pid() + "-"
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

  // ---- Pure pieces.

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

  private static String readOr(Path file, String otherwise) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return otherwise;
    }
  }
}
