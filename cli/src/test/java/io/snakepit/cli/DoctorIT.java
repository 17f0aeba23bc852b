package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.testing.Commands;
import io.snakepit.testing.Requires;
import io.snakepit.shim.Cgroups;
import io.snakepit.shim.HostSupport;
import io.snakepit.shim.ShimBinary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * {@code snakepit doctor} on this host, checked against what the host really has: the facts are read here
 * independently (/proc/1/comm, /proc/self/mountinfo, {@code which runc}) and the cgroup directories are listed before
 * and after each probe.
 */
class DoctorIT {
  /** A parent of this run's own, so that listing it is not disturbed by nodes other tests start meanwhile. */
  private static final String PARENT = HostSupport.PROBE_PREFIX + "it-" + ProcessHandle.current().pid();

  private record Run(int exit, List<String> lines, String stderr) {
    String line(String prefix) {
      return lines.stream().filter(l -> l.startsWith(prefix)).findFirst()
          .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' in:\n" + String.join("\n",
              lines)));
    }
  }

  private static Run doctor(String... args) throws Exception {
    List<String> cmd = Nodes.java("-jar", Nodes.jar().toString(), "doctor");
    cmd.addAll(List.of(args));
    Commands.Result r = Commands.run(new ProcessBuilder(cmd), java.time.Duration.ofSeconds(60), "doctor");
    return new Run(r.exit(), r.out().lines().toList(), r.err());
  }

  /**
   * The directories this run's probes could leave: everything named like a probe in the test JVM's own cgroup of
   * each hierarchy (the doctor, a child process, starts in the same ones).
   */
  private static List<String> probeDirs() throws Exception {
    Cgroups.Layout layout = Cgroups.Layout.detect();
    List<Path> bases = new ArrayList<>();
    layout.unified().ifPresent(u -> bases.add(Path.of(u + layout.own().getOrDefault("", ""))));
    layout.v1().forEach((controller, mount) -> bases.add(Path.of(mount + layout.own().getOrDefault(controller, ""))));
    TreeSet<String> found = new TreeSet<>();
    for (Path base : bases) {
      // Only names are read at this level: other tests' cgroups may come and go here meanwhile.
      List<Path> ours;
      try (Stream<Path> children = Files.list(base)) {
        ours = children.filter(d -> d.getFileName().toString().startsWith(HostSupport.PROBE_PREFIX)).toList();
      }
      for (Path d : ours) {
        try (Stream<Path> tree = Files.walk(d)) {
          tree.filter(Files::isDirectory).forEach(t -> found.add(t.toString()));
        }
      }
    }
    return List.copyOf(found);
  }

  /** A failed test must not litter the host: whatever a broken probe left is removed, deepest first. */
  @AfterAll
  static void removeWhatAProbeLeft() throws Exception {
    List<String> left = new ArrayList<>(probeDirs());
    Collections.reverse(left);
    for (String dir : left) {
      Files.deleteIfExists(Path.of(dir));
    }
  }

  @Test
  void thisHostSupportsProcessCgroupAndNamespacesButNotSystemd() throws Exception {
    Requires.root("the doctor's cgroup and namespace probes");
    Run r = doctor("--cgroup-parent", PARENT);
    assertEquals(0, r.exit(), r.stderr());
    assertEquals("mode process: supported", r.line("mode process:"));
    assertEquals("mode cgroup: supported (limits: memory via v1, pids via v1, cpu via v1)", r.line("mode cgroup:"));
    assertEquals("mode namespaces: supported", r.line("mode namespaces:"));
    String pid1 = Files.readString(Path.of("/proc/1/comm")).trim();
    assertEquals("mode systemd: not supported: PID 1 is '" + pid1 + "', not systemd", r.line("mode systemd:"));

    Path unified = Cgroups.Layout.detect().unified().orElseThrow();
    assertEquals("check cgroup2: ok: mounted at " + unified, r.line("check cgroup2:"));
    assertTrue(r.line("check cgroup.kill:").startsWith("check cgroup.kill: ok:"), r.lines().toString());
    assertTrue(r.line("check cgroup2 controllers:").endsWith("(hybrid layout)"), r.lines().toString());
    assertTrue(r.line("check systemd:").contains("/run/systemd/system does not exist"), r.lines().toString());
    for (String line : r.lines()) {
      assertTrue(line.isEmpty() || line.matches("check [a-z0-9. -]+: (ok|no): .+")
          || line.matches("mode [a-z]+: (supported( \\(.+\\))?|not supported: .+)"), "not a report line: " + line);
    }
    assertEquals(HostSupport.MODES.size(), r.lines().stream().filter(l -> l.startsWith("mode ")).count());
  }

  @Test
  void theShimLineNamesTheShippedStaticBinaryForThisArchitecture() throws Exception {
    String arch = switch (System.getProperty("os.arch")) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64" -> "aarch_64";
      default -> System.getProperty("os.arch");
    };
    String name = "snakepit-shim-linux-" + arch;
    long size;
    try (var in = ShimBinary.class.getResourceAsStream(name)) {
      assertTrue(in != null, "the snakepit-native jar on this test's classpath carries no " + name);
      size = in.readAllBytes().length;
    }
    Run r = doctor("--cgroup-parent", PARENT);
    assertEquals(0, r.exit(), r.stderr());
    assertEquals("check shim: ok: shipped static " + arch + " binary " + name + " (" + size + " bytes)",
        r.lines().get(0));

    Run json = doctor("--cgroup-parent", PARENT, "--json");
    JsonNode shim = new ObjectMapper().readTree(String.join("\n", json.lines())).path("shim");
    assertEquals(arch, shim.path("arch").asText());
    assertEquals("shipped", shim.path("origin").asText());
    assertTrue(shim.path("static").asBoolean(), shim.toString());
    assertEquals(size, shim.path("size").asLong());
  }

  @Test
  void theRuncLineAgreesWithWhichRunc() throws Exception {
    Commands.Result which = Commands.run(new ProcessBuilder("which", "runc"), java.time.Duration.ofSeconds(10),
        "which runc");
    String path = which.out().trim();
    Run r = doctor("--cgroup-parent", PARENT);
    if (which.exit() == 0) {
      assertTrue(r.line("check runc:").startsWith("check runc: ok: present at " + path + ": runc version"),
          r.line("check runc:"));
      assertTrue(r.line("mode runc:").startsWith("mode runc: supported (runc version"), r.line("mode runc:"));
    } else {
      assertTrue(r.line("check runc:").startsWith("check runc: no: 'runc' is not on PATH"), r.line("check runc:"));
      assertTrue(r.line("mode runc:").startsWith("mode runc: not supported: 'runc' is not on PATH"),
          r.line("mode runc:"));
    }
  }

  @Test
  void requireExitsOneAndSaysWhyWhenTheModeIsNotSupported() throws Exception {
    Requires.root("requiring the cgroup mode");
    Run systemd = doctor("--cgroup-parent", PARENT, "--require", "systemd");
    assertEquals(1, systemd.exit(), systemd.lines().toString());
    assertTrue(systemd.stderr().contains("mode systemd is required and not supported here: PID 1 is"),
        systemd.stderr());

    Run supported = doctor("--cgroup-parent", PARENT, "--require", "process", "--require", "cgroup");
    assertEquals(0, supported.exit(), supported.stderr());

    Run unknown = doctor("--require", "docker");
    assertEquals(2, unknown.exit());
    assertTrue(unknown.stderr().contains("mode 'docker' is unknown: use one of process, cgroup, namespaces, runc,"
        + " systemd"), unknown.stderr());
  }

  @Test
  void jsonAgreesWithTheText() throws Exception {
    Run text = doctor("--cgroup-parent", PARENT);
    Run json = doctor("--cgroup-parent", PARENT, "--json");
    assertEquals(0, json.exit(), json.stderr());
    JsonNode root = new ObjectMapper().readTree(String.join("\n", json.lines()));

    for (String mode : HostSupport.MODES) {
      JsonNode m = root.path("modes").path(mode);
      String detail = m.path("detail").asText();
      String expected = "mode " + mode + ": " + (m.path("supported").asBoolean()
          ? (detail.isEmpty() ? "supported" : "supported (" + detail + ")") : "not supported: " + detail);
      assertEquals(text.line("mode " + mode + ":"), expected);
    }
    List<String> textChecks = text.lines().stream().filter(l -> l.startsWith("check "))
        .map(l -> l.substring(0, l.indexOf(": ", l.indexOf(": ") + 1))).toList();
    List<String> jsonChecks = new ArrayList<>();
    root.path("checks").forEach(c -> jsonChecks.add("check " + c.path("name").asText() + ": "
        + (c.path("ok").asBoolean() ? "ok" : "no")));
    assertEquals(textChecks, jsonChecks);

    JsonNode cgroups = root.path("cgroups");
    assertEquals(Cgroups.Layout.detect().unified().orElseThrow().toString(), cgroups.path("unified").asText());
    assertTrue(cgroups.path("hybrid").asBoolean());
    for (String controller : List.of("memory", "pids", "cpu")) {
      assertEquals(Map.of("via", "v1", "works", true), Map.of(
          "via", cgroups.path("limits").path(controller).path("via").asText(),
          "works", cgroups.path("limits").path(controller).path("works").asBoolean()), controller);
    }
  }

  @Test
  void theProbeLeavesNoCgroupBehindEvenWhenALimitFails() throws Exception {
    Requires.root("the doctor's cgroup probe");
    List<String> before = probeDirs();
    assertEquals(List.of(), before, "probe directories were there before the test");

    Run ok = doctor("--cgroup-parent", PARENT + "/deeper");
    assertTrue(ok.line("check cgroup probe:").contains("made and removed"), ok.lines().toString());
    assertEquals(before, probeDirs());

    // In a v1 memory cgroup memory.limit_in_bytes is a file: the memory probe fails after the cgroup2 directories
    // and the parent in the memory hierarchy were made; pids and cpu go through.
    Run failed = doctor("--cgroup-parent", PARENT + "/memory.limit_in_bytes");
    assertTrue(failed.line("check limit memory:").startsWith("check limit memory: no: via v1"),
        failed.lines().toString());
    assertEquals("mode cgroup: supported (limits: memory not possible, pids via v1, cpu via v1)",
        failed.line("mode cgroup:"));
    assertEquals(before, probeDirs());
  }
}
