package io.snakepit.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HostSupport's pure parts: reading /proc texts, and the verdicts that given facts add up to. */
class HostSupportTest {
  private static final HostSupport.Outcome WORKED = new HostSupport.Outcome(true, "made and removed X");
  private static final Path UNIFIED = Path.of("/sys/fs/cgroup/unified");

  private static HostSupport.CgroupFacts cgroups(Set<String> offered, String via) {
    Map<String, HostSupport.LimitProbe> limits = new LinkedHashMap<>();
    Map<String, Path> v1 = new LinkedHashMap<>();
    for (String c : List.of("memory", "pids", "cpu")) {
      limits.put(c, new HostSupport.LimitProbe(via, WORKED));
      if (via.equals("v1")) {
        v1.put(c, Path.of("/sys/fs/cgroup", c));
      }
    }
    return new HostSupport.CgroupFacts(null, Optional.of(UNIFIED), offered, v1, "snakepit", WORKED, true, limits);
  }

  private static HostSupport.Facts host(HostSupport.CgroupFacts cgroups, int euid, boolean systemd, String runtime,
      boolean crunPresent) {
    Optional<Path> crun = crunPresent ? Optional.of(Path.of("/usr/bin/crun")) : Optional.empty();
    return new HostSupport.Facts(true, "6.1.0", cgroups, Optional.of(new HostSupport.Outcome(euid == 0, "exit 1,"
        + " unshare: unshare failed: Operation not permitted")), euid, false,
        new HostSupport.Tool(runtime, Optional.of(Path.of("/usr/bin", runtime)), runtime + " version 1.1.5"),
        new HostSupport.Tool("crun", crun, "crun version 1.8"), systemd, systemd ? "systemd" : "tini",
        "systemd-run", Optional.of(Path.of("/usr/bin/systemd-run")));
  }

  private static String line(HostSupport report, String mode) {
    return report.mode(mode).orElseThrow().line();
  }

  private static HostSupport.Check check(HostSupport report, String name) {
    return report.checks().stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void effectiveUidIsTheSecondFieldOfTheUidLine() {
    assertEquals(0, HostProbe.effectiveUid("Name:\tjava\nUid:\t1000\t0\t1000\t0\nGid:\t0\t0\t0\t0\n"));
    assertEquals(1000, HostProbe.effectiveUid("Uid:\t0\t1000\t0\t1000\n"));
    assertEquals(-1, HostProbe.effectiveUid("Name:\tjava\n"));
  }

  @Test
  void capSysAdminIsBit21OfTheEffectiveSet() {
    assertTrue(HostProbe.hasCapability("CapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n", 21));
    assertTrue(HostProbe.hasCapability("CapEff:\t0000000000200000\n", 21));
    assertFalse(HostProbe.hasCapability("CapEff:\t00000000001fffff\n", 21));
    assertFalse(HostProbe.hasCapability("CapPrm:\t000001ffffffffff\n", 21));
  }

  @Test
  void aVersionIsTheFirstLineThatSaysSomething() {
    assertEquals("runc version 1.1.5+ds1", HostProbe.firstLine("\n  runc version 1.1.5+ds1\ncommit: v1.1.5\n"));
    assertEquals("", HostProbe.firstLine(" \n"));
  }

  @Test
  void onlyExecutableFilesAreFoundOnThePath(@TempDir Path dir) throws Exception {
    Path notExecutable = Files.createDirectories(dir.resolve("a")).resolve("runc");
    Files.writeString(notExecutable, "");
    Path executable = Files.createDirectories(dir.resolve("b")).resolve("runc");
    Files.writeString(executable, "");
    Files.setPosixFilePermissions(executable, PosixFilePermissions.fromString("rwxr-xr-x"));
    String path = dir.resolve("a") + ":" + dir.resolve("missing") + ":" + dir.resolve("b");
    assertEquals(Optional.of(executable), HostSupport.onPath("runc", path));
    assertEquals(Optional.empty(), HostSupport.onPath("crun", path));
    assertEquals(Optional.of(executable), HostSupport.onPath(executable.toString(), ""));
    assertEquals(Optional.empty(), HostSupport.onPath(notExecutable.toString(), ""));
  }

  @Test
  void aHybridLayoutIsNamedAndItsLimitsComeFromV1() {
    HostSupport report = HostSupport.judge(host(cgroups(Set.of("hugetlb"), "v1"), 0, false, "runc", false));
    assertEquals("mode cgroup: supported (limits: memory via v1, pids via v1, cpu via v1)", line(report, "cgroup"));
    assertTrue(report.cgroups().hybrid());
    HostSupport.Check controllers = check(report, "cgroup2 controllers");
    assertFalse(controllers.ok());
    assertTrue(controllers.detail().contains("hybrid layout"), controllers.detail());
    assertEquals(new HostSupport.Limit("v1", true), report.cgroups().limits().get("memory"));
  }

  @Test
  void aPureCgroup2HostIsNotCalledHybrid() {
    HostSupport report = HostSupport.judge(
        host(cgroups(Set.of("cpu", "io", "memory", "pids"), "cgroup2"), 0, true, "runc", false));
    assertFalse(report.cgroups().hybrid());
    assertTrue(check(report, "cgroup2 controllers").ok());
    assertEquals("mode cgroup: supported (limits: memory via cgroup2, pids via cgroup2, cpu via cgroup2)",
        line(report, "cgroup"));
  }

  @Test
  void everyModeGetsOneLineInOrder() {
    HostSupport report = HostSupport.judge(host(cgroups(Set.of(), "v1"), 0, false, "runc", false));
    assertEquals(HostSupport.MODES, report.modes().stream().map(HostSupport.Verdict::mode).toList());
    for (HostSupport.Verdict v : report.modes()) {
      assertTrue(v.line().matches("mode " + v.mode() + ": (supported( \\(.+\\))?|not supported: .+)"), v.line());
    }
  }

  @Test
  void withoutSystemdAsPid1TheSystemdModeNamesWhatPid1Is() {
    HostSupport report = HostSupport.judge(host(cgroups(Set.of(), "v1"), 0, false, "runc", false));
    assertEquals("mode systemd: not supported: PID 1 is 'tini', not systemd", line(report, "systemd"));
    assertTrue(check(report, "systemd").detail().contains("/run/systemd/system"));
    assertEquals("mode systemd: supported (transient scopes through /usr/bin/systemd-run)",
        line(HostSupport.judge(host(cgroups(Set.of(), "v1"), 0, true, "runc", false)), "systemd"));
  }

  @Test
  void crunIsNotedAsFailingOnAHybridLayout() {
    HostSupport runc = HostSupport.judge(host(cgroups(Set.of(), "v1"), 0, false, "runc", true));
    assertTrue(check(runc, "crun").detail().contains("fails on a hybrid cgroup layout"), check(runc, "crun").detail());
    assertTrue(runc.mode("runc").orElseThrow().supported());

    HostSupport crun = HostSupport.judge(host(cgroups(Set.of(), "v1"), 0, false, "crun", true));
    assertTrue(line(crun, "runc").startsWith("mode runc: not supported: the runtime is crun, which fails on a"
        + " hybrid cgroup layout"), line(crun, "runc"));
  }

  @Test
  void withoutRootNamespacesAndRuncAreNotSupported() {
    HostSupport report = HostSupport.judge(host(cgroups(Set.of(), "v1"), 1000, false, "runc", false));
    assertFalse(check(report, "privileges").ok());
    assertTrue(line(report, "namespaces").contains("needs root or CAP_SYS_ADMIN"), line(report, "namespaces"));
    assertTrue(line(report, "runc").contains("euid 1000"), line(report, "runc"));
    assertEquals("mode process: supported", line(report, "process"));
  }

  @Test
  void withoutCgroup2TheCgroupModeSaysSo() {
    HostSupport.CgroupFacts none = new HostSupport.CgroupFacts(null, Optional.empty(), Set.of(),
        Map.of("memory", Path.of("/sys/fs/cgroup/memory")), "snakepit", null, false, Map.of());
    HostSupport report = HostSupport.judge(host(none, 0, false, "runc", false));
    assertTrue(line(report, "cgroup").startsWith("mode cgroup: not supported: no cgroup2 is mounted"),
        line(report, "cgroup"));
    assertTrue(check(report, "cgroup2").detail().contains("mount -t cgroup2"));
    assertFalse(report.cgroups().hybrid());
  }

  @Test
  void aFailedLimitLeavesTheModeSupportedAndSaysWhichLimitIsNotPossible() {
    HostSupport.CgroupFacts cg = cgroups(Set.of(), "v1");
    Map<String, HostSupport.LimitProbe> limits = new LinkedHashMap<>(cg.limits());
    limits.put("memory", new HostSupport.LimitProbe("v1", new HostSupport.Outcome(false, "cannot create X")));
    HostSupport.CgroupFacts partial = new HostSupport.CgroupFacts(null, cg.unified(), cg.offered(), cg.v1(),
        cg.parent(), cg.membership(), cg.kill(), limits);
    HostSupport report = HostSupport.judge(host(partial, 0, false, "runc", false));
    assertEquals("mode cgroup: supported (limits: memory not possible, pids via v1, cpu via v1)",
        line(report, "cgroup"));
    assertEquals("check limit memory: no: via v1 (/sys/fs/cgroup/memory): cannot create X",
        check(report, "limit memory").line());
  }
}
