package io.snakepit.actors.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.snakepit.shim.Cgroups;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One worker's OCI bundle for runc mode: a config.json and an empty rootfs directory, under the node's run directory.
 *
 * <p>The container's root is read-only and made of bind mounts: the host's system directories (read-only), the
 * Python installation and the snakepit_worker package (read-only), and the run directory that holds the worker's
 * socket (read-write). It has its own pid, ipc, mount and (unless network = host) network namespaces, and a cgroup
 * named after the worker with the pool's limits. The shim runs {@code runc run} in the foreground; runc passes the
 * readiness pipe (fd 3) through to Python.
 *
 * @param dir the bundle directory
 * @param containerId the container's id for runc
 * @param stateRoot runc's state directory (its {@code --root})
 * @param binary the OCI runtime
 * @param cgroupsPath the container's cgroup path, relative to each hierarchy's root
 * @param cgroup the directories runc makes for the container at that path (for cgroup.kill, counters, removal)
 */
public record RuncBundle(Path dir, String containerId, Path stateRoot, String binary, String cgroupsPath,
    Cgroups.WorkerCgroup cgroup) {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> SYSTEM_DIRS = List.of("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
      "/etc");
  /** Python installations' prefixes, by executable: asked once per executable. */
  private static final Map<String, List<String>> PYTHON_DIRS = new ConcurrentHashMap<>();

  /** Writes the bundle of {@code launch} under {@code runDir}/bundles. */
  public static RuncBundle write(Launch launch, Path runDir, String cgroupParent) {
    Isolation isolation = launch.settings().isolation();
    String id = ("snakepit-" + launch.instance() + "-" + launch.workerId() + "-" + launch.nonce())
        .replaceAll("[^A-Za-z0-9_.-]", "_");
    Path dir = runDir.resolve("bundles").resolve(launch.workerId());
    String cgroupsPath = "/" + cgroupParent.replaceAll("^/+|/+$", "") + "/" + launch.instance() + "/"
        + launch.workerId() + "-" + launch.nonce();
    RuncBundle bundle = new RuncBundle(dir, id, runDir.resolve("runc"), isolation.runc().binary(), cgroupsPath,
        runcCgroup(cgroupsPath, isolation.limits()));
    try {
      Files.createDirectories(dir.resolve("rootfs"));
      Files.createDirectories(bundle.stateRoot());
      Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter()
          .writeValueAsString(bundle.config(launch, runDir)));
    } catch (IOException e) {
      throw new IllegalStateException("cannot write the OCI bundle of worker " + launch.workerId() + " in " + dir
          + ": " + e.getMessage(), e);
    }
    return bundle;
  }

  /** What the shim runs: runc in the foreground, handing fd 3 (the readiness pipe) to the container. */
  public List<String> runCommand() {
    return List.of(binary, "--root", stateRoot.toString(), "run", "--bundle", dir.toString(), "--preserve-fds", "1",
        containerId);
  }

  /**
   * The cgroup runc makes at {@code cgroupsPath}: in cgroup2, and in every v1 hierarchy, one directory per mount (cpu
   * and cpuacct may share one).
   */
  private static Cgroups.WorkerCgroup runcCgroup(String cgroupsPath, Cgroups.Limits limits) {
    Cgroups.Layout layout = Cgroups.Layout.detect();
    Map<String, Path> v1 = new LinkedHashMap<>();
    Set<Path> seen = new HashSet<>();
    layout.v1().forEach((controller, mount) -> {
      if (seen.add(mount)) {
        v1.put(controller, Path.of(mount + cgroupsPath));
      }
    });
    return new Cgroups.WorkerCgroup(layout.unified().map(u -> Path.of(u + cgroupsPath)).orElse(null), Map.copyOf(v1),
        limits);
  }

  /** Removes runc's state of the container and the bundle (after the container is gone). */
  public void delete() {
    try {
      Process p = new ProcessBuilder(binary, "--root", stateRoot.toString(), "delete", "--force", containerId)
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (IOException e) {
      // runc is gone: nothing of its state can be removed through it
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deleteTree(dir);
  }

  private ObjectNode config(Launch launch, Path runDir) {
    Isolation isolation = launch.settings().isolation();
    ObjectNode c = JSON.createObjectNode();
    c.put("ociVersion", "1.0.2");
    ObjectNode process = c.putObject("process");
    process.put("terminal", false);
    String[] ids = isolation.runc().user().split(":");
    process.putObject("user").put("uid", Long.parseLong(ids[0])).put("gid", Long.parseLong(ids[1]));
    ArrayNode args = process.putArray("args");
    List<String> command = new ArrayList<>(launch.pythonCommand());
    if (command.get(0).contains("/")) {
      // Only the normalized path is mounted: "a/../b" would need "a" inside the container too.
      command.set(0, Path.of(command.get(0)).toAbsolutePath().normalize().toString());
    }
    command.forEach(args::add);
    ArrayNode env = process.putArray("env");
    Map<String, String> environment = new TreeMap<>(launch.environment());
    environment.put("SNAKEPIT_READY_FD", "3");
    environment.forEach((k, v) -> env.add(k + "=" + v));
    process.put("cwd", "/");
    process.put("noNewPrivileges", true);
    ArrayNode rlimits = process.putArray("rlimits");
    isolation.rlimits().forEach((name, value) -> {
      long v = value.equals("unlimited") ? -1L : Long.parseLong(value);
      rlimits.addObject().put("type", "RLIMIT_" + (name.equals("as") ? "AS" : name.toUpperCase(Locale.ROOT)))
          .put("soft", v).put("hard", v);
    });
    c.putObject("root").put("path", "rootfs").put("readonly", true);
    c.put("hostname", "snakepit-worker");

    ArrayNode mounts = c.putArray("mounts");
    mount(mounts, "/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev"));
    mount(mounts, "/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k"));
    mount(mounts, "/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
    mount(mounts, "/tmp", "tmpfs", "tmpfs", List.of("nosuid", "nodev", "mode=1777"));
    mount(mounts, "/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro"));
    Set<String> readOnly = new LinkedHashSet<>();
    for (String system : SYSTEM_DIRS) {
      Path p = Path.of(system);
      if (Files.isSymbolicLink(p)) {
        // A merged /usr: /lib64 -> usr/lib64 and the like. The same link in the rootfs (the ELF loader is found
        // through /lib64).
        Path link = dir.resolve("rootfs").resolve(p.getFileName().toString());
        try {
          if (!Files.isSymbolicLink(link)) {
            Files.createSymbolicLink(link, Files.readSymbolicLink(p));
          }
        } catch (IOException e) {
          throw new IllegalStateException("cannot link " + link + " in the OCI bundle: " + e.getMessage(), e);
        }
      } else {
        readOnly.add(system);
      }
    }
    readOnly.addAll(pythonDirs(launch.settings().python()));
    readOnly.add(launch.workerPackage().toString());
    readOnly.addAll(launch.settings().pythonPath());
    readOnly.addAll(isolation.runc().readOnlyPaths());
    for (String path : readOnly) {
      Path p = Path.of(path).toAbsolutePath().normalize();
      if (Files.isDirectory(p)) {
        String real = realPath(p);
        mount(mounts, real, "bind", real, List.of("rbind", "ro", "nosuid", "nodev"));
      }
    }
    mount(mounts, runDir.toString(), "bind", runDir.toString(), List.of("rbind", "rw", "nosuid", "nodev"));

    ObjectNode linux = c.putObject("linux");
    ArrayNode namespaces = linux.putArray("namespaces");
    for (String ns : isolation.network() == Isolation.Network.NONE ? List.of("pid", "ipc", "mount", "network", "uts")
        : List.of("pid", "ipc", "mount", "uts")) {
      namespaces.addObject().put("type", ns);
    }
    linux.put("cgroupsPath", cgroupsPath);
    ObjectNode resources = linux.putObject("resources");
    resources.putArray("devices").addObject().put("allow", false).put("access", "rwm");
    Cgroups.Limits limits = isolation.limits();
    if (limits.memoryBytes() > 0) {
      resources.putObject("memory").put("limit", limits.memoryBytes()).put("swap", limits.memoryBytes());
    }
    if (limits.pids() > 0) {
      resources.putObject("pids").put("limit", limits.pids());
    }
    if (limits.cpus() > 0) {
      resources.putObject("cpu").put("period", 100_000L).put("quota", Math.max(1000, Math.round(limits.cpus()
          * 100_000)));
    }
    ArrayNode masked = linux.putArray("maskedPaths");
    List.of("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware").forEach(masked::add);
    ArrayNode readonlyPaths = linux.putArray("readonlyPaths");
    List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger").forEach(readonlyPaths::add);
    return c;
  }

  private static String realPath(Path p) {
    try {
      return p.toRealPath().toString();
    } catch (IOException e) {
      return p.toString();
    }
  }

  private static void mount(ArrayNode mounts, String destination, String type, String source, List<String> options) {
    ObjectNode m = mounts.addObject();
    m.put("destination", destination).put("type", type).put("source", source);
    ArrayNode o = m.putArray("options");
    options.forEach(o::add);
  }

  /** The directories a Python needs: its prefix and base prefix (a virtual environment and what it is made from). */
  static List<String> pythonDirs(String python) {
    return PYTHON_DIRS.computeIfAbsent(python, exe -> {
      try {
        Process p = new ProcessBuilder(exe, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)")
            .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
          throw new IllegalStateException("'" + exe + " -c ...' failed: " + out);
        }
        return List.of(out.split("\n"));
      } catch (IOException e) {
        throw new IllegalStateException("cannot run the workers' Python '" + exe + "' to find its installation: "
            + e.getMessage() + ". Set snakepit.pool-defaults.python to a Python 3 executable", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    });
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (var walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: the run directory is removed with the node
    }
  }
}
