package io.snakepit.actors;

import static io.snakepit.testing.Awaits.await;
import static io.snakepit.testing.Awaits.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Pool;
import io.snakepit.PoolUnavailableException;
import io.snakepit.PythonException;
import io.snakepit.Snakepit;
import io.snakepit.WorkerCrashedException;
import io.snakepit.testing.Procs;
import io.snakepit.testing.Requires;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The isolation modes on this host's real kernel: what each contains, the limits and how their hits are reported,
 * and the documented limit of the process mode.
 */
class IsolationIT {
  private static final String FORKING = "snakepit_worker.examples.forking:ForkingAdapter";

  /** A node with the given pools, ready. */
  private static final class Node implements AutoCloseable {
    final ActorTestKit kit;
    final Snakepit snakepit;

    Node(String name, String pools) throws Exception {
      kit = ActorTestKit.create(name, TestNodes.config("snakepit.pools { default = null\n" + pools + " }"));
      snakepit = Snakepit.get(kit.system());
      try {
        snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        kit.shutdownTestKit();
        throw e;
      }
    }

    Pool pool(String name) {
      return snakepit.pool(name);
    }

    @Override
    public void close() {
      kit.shutdownTestKit();
    }
  }

  /** The live processes of a pool's workers (shims, runtimes, Python and what they started). */
  private static List<Procs.Proc> poolProcesses(String pool) {
    return Procs.withInstance(TestNodes.INSTANCE).stream()
        .filter(p -> Procs.environ(p.pid(), "SNAKEPIT_WORKER_ID").filter(id -> id.startsWith(pool + "-")).isPresent())
        .toList();
  }

  /** The pool's processes running {@code sleep}: what escape_session and spawn_tree leave behind. */
  private static List<Procs.Proc> sleepers(String pool) {
    return poolProcesses(pool).stream().filter(p -> Procs.cmdline(p.pid()).startsWith("sleep ")).toList();
  }

  private static Procs.Proc shimOf(String pool) {
    return poolProcesses(pool).stream().filter(p -> Procs.cmdline(p.pid()).contains("snakepit-shim")).findFirst()
        .orElseThrow(() -> new AssertionError("no shim of pool " + pool));
  }

  /** The shim of the worker whose tree holds {@code member} (same SNAKEPIT_WORKER_ID). */
  private static Procs.Proc shimOf(String pool, Procs.Proc member) {
    String worker = Procs.environ(member.pid(), "SNAKEPIT_WORKER_ID").orElseThrow();
    return poolProcesses(pool).stream().filter(p -> Procs.cmdline(p.pid()).contains("snakepit-shim")
        && Procs.environ(p.pid(), "SNAKEPIT_WORKER_ID").filter(worker::equals).isPresent()).findFirst()
        .orElseThrow(() -> new AssertionError("no shim of worker " + worker));
  }

  private static Procs.Proc pythonOf(String pool) {
    return poolProcesses(pool).stream().filter(p -> Procs.cmdline(p.pid()).contains("/bin/snakepit_worker ")
        && !Procs.cmdline(p.pid()).contains("snakepit-shim") && !Procs.cmdline(p.pid()).contains(" run "))
        .findFirst().orElseThrow(() -> new AssertionError("no Python worker of pool " + pool));
  }

  private static String namespace(long pid, String ns) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + ns)).toString();
  }

  /** Starts a sleeper that leaves the session (setsid, double fork) and returns it as the host sees it. */
  private static Procs.Proc escape(Pool pool, String name) throws Exception {
    List<Procs.Proc> before = sleepers(name);
    await(pool.execute("escape_session", "{}"));
    List<Procs.Proc> after = new ArrayList<>(sleepers(name));
    after.removeAll(before);
    assertEquals(1, after.size(), "escape_session left " + after);
    Procs.Proc sleeper = after.get(0);
    Procs.Proc shim = shimOf(name, sleeper);
    int sid = io.snakepit.shim.ProcStat.read(sleeper.pid()).orElseThrow().session();
    assertNotEquals(shim.pid(), sid, "the sleeper did not leave the shim's session");
    return sleeper;
  }

  /**
   * {@link #escape} on the worker that replaces one whose shim was just killed: a call sent before the pool hears of
   * the death meets the dying worker and fails with its crash, so it is tried again (for up to 20 s).
   */
  private static Procs.Proc escapeOnceReplaced(Pool pool, String name) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        return escape(pool, name);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof io.snakepit.WorkerCrashedException) || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }

  /** Waits until a worker other than {@code pid} answers (the calls in between may meet the dying one). */
  private static void awaitReplacement(Pool pool, int pid) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      try {
        if (Integer.parseInt(await(pool.execute("pid", "{}")).json()) != pid) {
          return;
        }
      } catch (ExecutionException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("worker " + pid + " was not replaced within 20 s");
      }
      Thread.sleep(100);
    }
  }

  private static void killQuietly(Procs.Proc p) {
    ProcessHandle.of(p.pid()).filter(h -> p.alive()).ifPresent(ProcessHandle::destroyForcibly);
  }

  @Test
  void rlimitsShowInProcLimitsOfTheWorker() throws Exception {
    try (Node node = new Node("rlimits", """
        limited { workers = 1, isolation.rlimits { open-files = 256, core-size = 0, cpu-seconds = 3600,
                                                    address-space = 8GiB } }
        """)) {
      int pid = Integer.parseInt(await(node.pool("limited").execute("pid", "{}")).json());
      String limits = Files.readString(Path.of("/proc/" + pid + "/limits"));
      assertTrue(limits.matches("(?s).*Max open files\\s+256\\s+256\\s.*"), limits);
      assertTrue(limits.matches("(?s).*Max core file size\\s+0\\s+0\\s.*"), limits);
      assertTrue(limits.matches("(?s).*Max cpu time\\s+3600\\s+3600\\s.*"), limits);
      assertTrue(limits.matches("(?s).*Max address space\\s+8589934592\\s+8589934592\\s.*"), limits);
      String shimLimits = Files.readString(Path.of("/proc/" + shimOf("limited").pid() + "/limits"));
      assertFalse(shimLimits.matches("(?s).*Max open files\\s+256\\s.*"), "the shim itself is limited: " + shimLimits);
    }
  }

  @Test
  void inProcessModeASetsidGrandchildOutlivesASigkilledShim() throws Exception {
    // The documented limit of the process mode: the shim catches escaped descendants as their subreaper while it
    // lives; once the shim itself is SIGKILLed, a process that left its session is out of reach.
    Procs.Proc sleeper = null;
    try (Node node = new Node("process-escape", "plain { workers = 1, adapter = \"" + FORKING + "\" }")) {
      sleeper = escape(node.pool("plain"), "plain");
      int before = pythonOf("plain").pid();
      Procs.kill(shimOf("plain", sleeper).pid(), 9);
      awaitReplacement(node.pool("plain"), before);
      Thread.sleep(500);
      assertTrue(sleeper.alive(), "in process mode the escaped sleeper was expected to survive its shim's SIGKILL");
    } finally {
      if (sleeper != null) {
        killQuietly(sleeper);
      }
    }
  }

  @Test
  void inCgroupModeASetsidGrandchildDiesWithASigkilledShimAndWithAStop() throws Exception {
    Requires.isolationMode("cgroup");
    Path cgroupRoot;
    Procs.Proc afterStop;
    try (Node node = new Node("cgroup-escape", "boxed { workers = 2, adapter = \"" + FORKING
        + "\", isolation.mode = cgroup }")) {
      Procs.Proc sleeper = escape(node.pool("boxed"), "boxed");
      String cgroup = Files.readString(Path.of("/proc/" + sleeper.pid() + "/cgroup"));
      assertTrue(cgroup.contains("/snakepit/" + TestNodes.INSTANCE + "/boxed-"), cgroup);
      cgroupRoot = Path.of("/sys/fs/cgroup/unified" + cgroup.lines().filter(l -> l.startsWith("0::")).findFirst()
          .orElseThrow().substring(3)).getParent();
      Procs.kill(shimOf("boxed", sleeper).pid(), 9);
      assertEquals(List.of(), Procs.awaitGone(List.of(sleeper), Duration.ofSeconds(10)),
          "the escaped sleeper outlived its shim's SIGKILL in cgroup mode");
      afterStop = escape(node.pool("boxed"), "boxed");
    }
    assertEquals(List.of(), Procs.awaitGone(List.of(afterStop), Duration.ofSeconds(10)),
        "the escaped sleeper outlived the node's stop in cgroup mode");
    if (Files.exists(cgroupRoot)) { // the last worker of the instance removes the instance's directory too
      try (var left = Files.list(cgroupRoot)) {
        List<Path> dirs = left.filter(d -> d.getFileName().toString().startsWith("boxed-")).toList();
        assertEquals(List.of(), dirs, "worker cgroups left after the stop");
      }
    }
  }

  @Test
  void inNamespacesModeWorkersHaveTheirOwnPidNamespaceAndEscapeesDieWithTheShim() throws Exception {
    Requires.isolationMode("namespaces");
    Procs.Proc afterStop;
    try (Node node = new Node("ns-escape", "spaced { workers = 1, adapter = \"" + FORKING
        + "\", isolation.mode = namespaces }")) {
      Procs.Proc python = pythonOf("spaced");
      long self = ProcessHandle.current().pid();
      for (String ns : List.of("pid", "ipc", "mnt")) {
        assertNotEquals(namespace(self, ns), namespace(python.pid(), ns), ns + " namespace is the host's");
      }
      assertEquals(namespace(self, "net"), namespace(python.pid(), "net"), "network = host yet a private net");
      // Inside, Python sees its namespace's pids (the escape_session tool's answer is one of them).
      int innerPid = Integer.parseInt(await(node.pool("spaced").execute("pid", "{}")).json());
      assertTrue(innerPid < 10, "the worker's own pid inside its namespace: " + innerPid);
      Procs.Proc sleeper = escape(node.pool("spaced"), "spaced");
      Procs.kill(shimOf("spaced", sleeper).pid(), 9);
      assertEquals(List.of(), Procs.awaitGone(List.of(sleeper), Duration.ofSeconds(10)),
          "the escaped sleeper outlived its shim's SIGKILL in namespaces mode");
      afterStop = escapeOnceReplaced(node.pool("spaced"), "spaced");
    }
    assertEquals(List.of(), Procs.awaitGone(List.of(afterStop), Duration.ofSeconds(10)),
        "the escaped sleeper outlived the node's stop in namespaces mode");
  }

  @Test
  void withNetworkNoneATcpServerOnTheHostsLoopbackIsOutOfReachWhileGrpcWorks() throws Exception {
    Requires.isolationMode("namespaces");
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Node node = new Node("no-network", """
            offline { workers = 1, isolation { mode = namespaces, network = none } }
            online { workers = 1, isolation { mode = namespaces, network = host } }
            """)) {
      String args = "{\"host\": \"127.0.0.1\", \"port\": " + server.getLocalPort() + "}";
      assertEquals("true", await(node.pool("online").execute("connect", args)).json(),
          "control: with the host's network the server is reachable");
      PythonException e = assertInstanceOf(PythonException.class, failure(node.pool("offline")
          .execute("connect", args)));
      assertTrue(e.getMessage().contains("ConnectionRefusedError"), e.getMessage());
      assertEquals("\"pong\"", await(node.pool("offline").execute("ping", "{}")).json(), "gRPC over the socket");
      Procs.Proc python = pythonOf("offline");
      assertNotEquals(namespace(ProcessHandle.current().pid(), "net"), namespace(python.pid(), "net"));
    }
  }

  @Test
  void aForkBombIsBoundedByThePidsLimitAndTheWorkerIsReplaced() throws Exception {
    Requires.isolationMode("cgroup");
    try (Node node = new Node("fork-bomb", "bomb { workers = 1, adapter = \"" + FORKING
        + "\", isolation { mode = cgroup, limits.pids = 64 } }")) {
      Pool pool = node.pool("bomb");
      int before = Integer.parseInt(await(pool.execute("pid", "{}")).json());
      var bomb = pool.execute("fork_bomb", "{\"seconds\": 30}").toCompletableFuture();
      // The host stays responsive while the bomb runs: a process starts and ends at once.
      long started = System.nanoTime();
      Process p = new ProcessBuilder("true").start();
      assertTrue(p.waitFor(5, TimeUnit.SECONDS), "the host could not run /bin/true within 5 s");
      assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
      WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(bomb));
      assertEquals(WorkerCrashedException.Reason.PIDS_LIMIT, e.reason(), e.getMessage());
      assertTrue(e.getMessage().contains("killed: pids limit 64 reached"), e.getMessage());
      int after = Integer.parseInt(await(pool.execute("pid", "{}")).json());
      assertNotEquals(before, after, "the worker was not replaced");
      assertTrue(poolProcesses("bomb").size() < 10, "the bomb's processes outlived the worker: "
          + poolProcesses("bomb"));
    }
  }

  @Test
  void aMemoryHogIsOomKilledAndTheCallerIsToldWhichLimit() throws Exception {
    Requires.isolationMode("cgroup");
    try (Node node = new Node("memory-hog", "hog { workers = 1, isolation { mode = cgroup, limits.memory = 128MiB }"
        + " }")) {
      Pool pool = node.pool("hog");
      int before = Integer.parseInt(await(pool.execute("pid", "{}")).json());
      WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class,
          failure(pool.execute("grow", "{\"mb\": 400}")));
      assertEquals(WorkerCrashedException.Reason.MEMORY_LIMIT, e.reason(), e.getMessage());
      assertTrue(e.getMessage().contains("killed: memory limit 128 MiB exceeded"), e.getMessage());
      int after = Integer.parseInt(await(pool.execute("pid", "{}")).json());
      assertNotEquals(before, after, "the worker was not replaced");
    }
  }

  @Test
  void aCpuLimitHoldsABusyWorkerToItsShare() throws Exception {
    Requires.isolationMode("cgroup");
    try (Node node = new Node("cpu-limit", """
        quarter { workers = 1, isolation { mode = cgroup, limits.cpu = 0.25 } }
        free { workers = 1 }
        """)) {
      double limited = Double.parseDouble(await(node.pool("quarter").execute("spin", "{\"seconds\": 2}")).json());
      double unlimited = Double.parseDouble(await(node.pool("free").execute("spin", "{\"seconds\": 2}")).json());
      // A quarter of one CPU over 2 s is 0.5 s; allow scheduling slack, but far below the unlimited worker's share.
      assertTrue(limited < 0.8, "a worker limited to 0.25 CPU used " + limited + " s of CPU in 2 s");
      assertTrue(unlimited > 1.0, "control: the unlimited worker used only " + unlimited + " s of CPU in 2 s");
    }
  }

  @Test
  void systemdModeWithoutSystemdFailsThePoolWithTheReasonAndTheFix() throws Exception {
    boolean systemd = Files.isDirectory(Path.of("/run/systemd/system"));
    ActorTestKit kit = ActorTestKit.create("no-systemd", TestNodes.config(
        "snakepit.pools { unit { workers = 1, isolation.mode = systemd } }"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      if (systemd) {
        snakepit.ready().toCompletableFuture().get(90, TimeUnit.SECONDS);
        assertEquals("\"pong\"", await(snakepit.pool("unit").execute("ping", "{}")).json());
        return;
      }
      ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
          () -> snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS));
      String message = e.getCause().getMessage();
      assertTrue(message.contains("isolation mode 'systemd' needs systemd as PID 1"), message);
      assertTrue(message.contains("Use isolation mode 'cgroup'"), message);
      assertInstanceOf(PoolUnavailableException.class, failure(snakepit.pool("unit").execute("ping", "{}")));
      assertEquals(List.of(), poolProcesses("unit"), "a process was started in spite of the refusal");
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void inRuncModeTheWorkerRunsInItsOwnContainerAndItsEscapeesDieWithTheStop() throws Exception {
    Requires.isolationMode("runc");
    Procs.Proc afterStop;
    try (Node node = new Node("runc", "contained { workers = 1, adapter = \"" + FORKING
        + "\", isolation { mode = runc, limits.pids = 256 } }")) {
      Pool pool = node.pool("contained");
      assertEquals("\"pong\"", await(pool.execute("ping", "{}")).json());
      Procs.Proc python = pythonOf("contained");
      long self = ProcessHandle.current().pid();
      for (String ns : List.of("pid", "ipc", "mnt", "net")) {
        assertNotEquals(namespace(self, ns), namespace(python.pid(), ns), ns + " namespace is the host's");
      }
      afterStop = escape(pool, "contained");
      assertTrue(Files.readString(Path.of("/proc/" + python.pid() + "/status")).contains("NSpid:\t" + python.pid()
          + "\t1"), "Python is not PID 1 of its container");
    }
    assertEquals(List.of(), Procs.awaitGone(List.of(afterStop), Duration.ofSeconds(10)),
        "the escaped sleeper outlived the node's stop in runc mode");
    assertEquals(List.of(), poolProcesses("contained"), "processes of the container outlived the stop");
  }

  @Test
  void aCgroupThatCannotBeMadeFailsThePoolWithThePathAndWhatToDelegate() throws Exception {
    // A file where the parent directory should be: mkdir fails as it would on a cgroup not delegated to this user.
    ActorTestKit kit = ActorTestKit.create("no-cgroup", TestNodes.config(
        "snakepit.pools { nowhere { workers = 1, isolation { mode = cgroup, cgroup.parent = \"/cgroup.procs\" } } }"));
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
          () -> snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS));
      String message = e.getCause().getMessage();
      assertTrue(message.contains("cannot create the cgroup /sys/fs/cgroup/unified/cgroup.procs/"), message);
      assertTrue(message.contains("Delegate /sys/fs/cgroup/unified/cgroup.procs"), message);
      assertEquals(List.of(), poolProcesses("nowhere"), "a process was started without its cgroup");
    } finally {
      kit.shutdownTestKit();
    }
  }

  @Test
  void aConfigurationMistakeNamesTheKeyAndTheFix() {
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> io.snakepit.actors.worker.Isolation.fromConfig(com.typesafe.config.ConfigFactory.parseMap(
            Map.of("mode", "process", "limits.memory", "256MiB")).withFallback(TestNodes.config("")
            .getConfig("snakepit.pool-defaults.isolation"))));
    assertTrue(e.getMessage().contains("need a cgroup, and isolation mode 'process' makes none"), e.getMessage());
    var unknown = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> io.snakepit.actors.worker.Isolation.Mode.parse("docker"));
    assertTrue(unknown.getMessage().contains("use one of process, cgroup, namespaces, runc, systemd"));
  }
}
