package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.shim.ProcStat;
import io.snakepit.shim.ShimEvent;
import io.snakepit.testing.Procs;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shim's isolation options (--rlimit, --cgroup, --kill-cgroup, --unshare), checked against what /proc, the
 * cgroup files and the kernel's namespaces show. Needs root, like the options themselves.
 */
class ShimIsolationIT {
  private static final int SIGTERM = 15;

  @BeforeAll
  static void runsAsRoot() throws IOException {
    assumeTrue(Files.readAllLines(Path.of("/proc/self/status")).stream().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "namespaces and cgroups need root");
  }

  @Test
  void rlimitsHoldForTheProgramButNotForTheShim() throws Exception {
    RunningShim r = RunningShim.start(
        List.of("--rlimit", "nofile=256:512", "--rlimit", "core=0", "--rlimit", "cpu=100", "--rlimit", "as=4294967296"),
        List.of("sh", "-c", "cat /proc/self/limits; echo END; exec sleep 1000"));
    try {
      int program = r.next(ShimEvent.Spawned.class).pid();
      Map<String, List<String>> ownView = limits(outUntil(r, "END"));
      Map<String, List<String>> programLimits = limits(Files.readAllLines(Path.of("/proc/" + program + "/limits")));
      Map<String, List<String>> shimLimits = limits(Files.readAllLines(Path.of("/proc/" + r.pid() + "/limits")));
      Map<String, List<String>> jvmLimits = limits(Files.readAllLines(Path.of("/proc/self/limits")));
      Map<String, List<String>> asked = Map.of("Max open files", List.of("256", "512"),
          "Max core file size", List.of("0", "0"), "Max cpu time", List.of("100", "100"),
          "Max address space", List.of("4294967296", "4294967296"));
      asked.forEach((name, limit) -> {
        assertEquals(limit, ownView.get(name), name + " as the program reads it");
        assertEquals(limit, programLimits.get(name), name + " in the program's /proc/PID/limits");
        assertEquals(jvmLimits.get(name), shimLimits.get(name), name + ": the shim keeps what it inherited");
      });
      assertNotEquals(asked.get("Max open files"), shimLimits.get("Max open files"));
      assertNotEquals(asked.get("Max address space"), shimLimits.get("Max address space"));
    } finally {
      r.finish();
    }
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "--rlimit      | nofile         | NAME=SOFT[:HARD]",
      "--rlimit      | stack=10       | NAME=SOFT[:HARD]",
      "--rlimit      | nofile=-1      | NAME=SOFT[:HARD]",
      "--rlimit      | nofile=10k     | NAME=SOFT[:HARD]",
      "--rlimit      | nofile= 10     | NAME=SOFT[:HARD]",
      "--rlimit      | cpu=1:         | NAME=SOFT[:HARD]",
      "--rlimit      | nofile=512:256 | SOFT <= HARD",
      "--unshare     | pid,uts        | pid,ipc,mount,net",
      "--unshare     | pid,           | pid,ipc,mount,net",
      "--cgroup      | ''             | cgroup directory",
      "--kill-cgroup | ''             | cgroup directory",
  })
  void badOptionValueIsAUsageErrorNamingTheOptionAndItsForm(String option, String value, String form)
      throws Exception {
    RunningShim r = RunningShim.start(List.of(option, value), List.of("true"));
    assertEquals(64, r.exitCode());
    String message = r.stderr().lines().findFirst().orElse("");
    assertTrue(message.startsWith("snakepit-shim: " + option + " "), message);
    assertTrue(message.contains(form), message);
    assertTrue(r.events.isEmpty(), "nothing was started: " + r.events);
  }

  @Test
  void cgroupsHoldTheProgramAndWhatEscapedItsSessionButNotTheShim() throws Exception {
    String name = "snakepit-shim-it-" + UUID.randomUUID().toString().substring(0, 8);
    Path v2 = Files.createDirectory(cgroupMount("cgroup2", "").resolve(name));
    Path pids = null;
    RunningShim r = null;
    try {
      pids = Files.createDirectory(cgroupMount("cgroup", "pids").resolve(name));
      r = RunningShim.start(List.of("--cgroup", v2.toString(), "--cgroup", pids.toString(), "--kill-cgroup",
          v2.toString()), List.of("sh", "-c", "setsid sh -c 'sleep 1000 & sleep 1000' & exec sleep 1000"));
      int shim = r.pid();
      int program = r.next(ShimEvent.Spawned.class).pid();
      List<Integer> inside = await(() -> cgroupProcs(v2), procs -> sleepers(procs) == 3, "three sleeps in " + v2);
      assertTrue(inside.contains(program));
      assertEquals(inside.stream().sorted().toList(), cgroupProcs(pids).stream().sorted().toList());
      assertTrue(inside.stream().anyMatch(pid -> ProcStat.read(pid).orElseThrow().session() != shim),
          "precondition: something left the shim's session");
      for (int pid : inside) {
        List<String> cgroups = Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"));
        assertTrue(cgroups.contains("0::/" + name), pid + " " + cgroups);
        assertTrue(cgroups.stream().anyMatch(l -> l.matches("\\d+:pids:/" + name)), pid + " " + cgroups);
      }
      assertFalse(Files.readString(Path.of("/proc/" + shim + "/cgroup")).contains(name), "the shim stays outside");
      List<Procs.Proc> procs = inside.stream().map(pid -> Procs.of(pid).orElseThrow()).toList();

      r.send("STOP 500");
      r.next(ShimEvent.Exit.class);
      assertEquals(List.of(), procs.stream().filter(Procs.Proc::alive).toList(), "alive when EXIT came");
      assertEquals(List.of(), cgroupProcs(v2));
      assertTrue(Files.readAllLines(v2.resolve("cgroup.events")).contains("populated 0"));
      assertEquals(0, r.exitCode());
    } finally {
      try {
        if (r != null) {
          r.finish();
        }
      } finally {
        removeCgroup(v2);
        removeCgroup(pids);
      }
    }
  }

  @Test
  void killCgroupTakesDownWhatIsInItThoughOutsideTheShimsTreeBeforeExit() throws Exception {
    Path v2 = Files.createDirectory(
        cgroupMount("cgroup2", "").resolve("snakepit-shim-it-" + UUID.randomUUID().toString().substring(0, 8)));
    ProcessBuilder b = new ProcessBuilder("sleep", "1000");
    b.environment().put("SNAKEPIT_INSTANCE", TestNodes.INSTANCE);
    Process outsider = b.start();
    RunningShim r = null;
    try {
      Files.writeString(v2.resolve("cgroup.procs"), Long.toString(outsider.pid()));
      Procs.Proc stranger = Procs.of((int) outsider.pid()).orElseThrow();
      r = RunningShim.start(List.of("--cgroup", v2.toString(), "--kill-cgroup", v2.toString()),
          List.of("sleep", "1000"));
      int program = r.next(ShimEvent.Spawned.class).pid();
      await(() -> cgroupProcs(v2), procs -> procs.contains(program), "the program in " + v2);
      assertTrue(stranger.alive(), "precondition: the process the test put in the cgroup runs");

      r.send("STOP 200");
      r.next(ShimEvent.Exit.class);
      assertFalse(stranger.alive(), "EXIT came while a process of the --kill-cgroup was alive");
      assertTrue(outsider.waitFor(10, TimeUnit.SECONDS));
      assertEquals(128 + 9, outsider.exitValue(), "killed by cgroup.kill's SIGKILL");
    } finally {
      outsider.destroyForcibly();
      try {
        if (r != null) {
          r.finish();
        }
      } finally {
        removeCgroup(v2);
      }
    }
  }

  @Test
  void unsharedProgramSeesItsOwnNamespacesAndEverythingInsideDiesWithTheShim() throws Exception {
    Path socket = Files.createTempDirectory("shimns").resolve("s.sock");
    try (ServerSocket host = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocketChannel unix = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      unix.bind(UnixDomainSocketAddress.of(socket));
      CompletableFuture<String> received = CompletableFuture.supplyAsync(() -> readLine(unix));
      String script = String.join("\n",
          "import os, socket, sys",
          "print('PIDS', ' '.join(sorted((p for p in os.listdir('/proc') if p.isdigit()), key=int)))",
          "print('SELF', os.getpid())",
          "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)",
          "socket.create_connection(s.getsockname(), timeout=5).close(); print('LOOPBACK up')",
          "try:",
          "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()",
          "    print('HOSTTCP connected')",
          "except ConnectionRefusedError:",
          "    print('HOSTTCP refused')",
          "u = socket.socket(socket.AF_UNIX); u.connect(sys.argv[2]); u.sendall(b'hello\\n'); u.close()",
          "if os.fork() == 0:",
          "    os.setsid()",
          "    if os.fork() == 0:",
          "        os.execvp('sleep', ['sleep', '1000'])",
          "    os._exit(0)",
          "os.wait()",
          "print('END', flush=True)",
          "sys.stdin.read()");
      RunningShim r = RunningShim.start(List.of("--unshare", "pid,mount,ipc,net"),
          List.of(TestNodes.python(), "-c", script, Integer.toString(host.getLocalPort()), socket.toString()));
      try {
        int shim = r.pid();
        int python = r.next(ShimEvent.Spawned.class).pid();
        Map<String, String> said = new HashMap<>();
        for (String line : outUntil(r, "END")) {
          said.put(line.substring(0, line.indexOf(' ')), line.substring(line.indexOf(' ') + 1));
        }
        assertEquals("1 2", said.get("PIDS"), "/proc inside shows the namespace's pids: the init and Python");
        assertEquals("2", said.get("SELF"));
        assertEquals("up", said.get("LOOPBACK"));
        assertEquals("refused", said.get("HOSTTCP"), "TCP to the host's 127.0.0.1 must not get through");
        host.setSoTimeout(200);
        assertThrows(SocketTimeoutException.class, host::accept);
        assertEquals("hello", received.get(10, TimeUnit.SECONDS), "a Unix socket by path still works");

        for (String ns : List.of("pid", "mnt", "ipc", "net")) {
          assertNotEquals(namespace(selfPid(), ns), namespace(python, ns), ns);
        }
        assertEquals(namespace(selfPid(), "pid"), namespace(shim, "pid"), "the shim stays in the host's pid ns");
        assertEquals(namespace(selfPid(), "mnt"), namespace(shim, "mnt"), "the shim keeps the host's /proc");
        assertEquals(namespace(python, "net"), namespace(shim, "net"));
        assertEquals(namespace(python, "ipc"), namespace(shim, "ipc"));

        String pidNs = namespace(python, "pid");
        List<ProcStat> inside = await(() -> inPidNamespace(pidNs),
            procs -> procs.stream().anyMatch(p -> Procs.cmdline(p.pid()).equals("sleep 1000")), "the sleeper");
        ProcStat init = inside.stream().filter(p -> p.ppid() == shim && p.pid() != python).findFirst().orElseThrow();
        ProcStat sleeper = inside.stream().filter(p -> Procs.cmdline(p.pid()).equals("sleep 1000")).findFirst()
            .orElseThrow();
        assertEquals(3, inside.size(), "the init, Python and the sleeper: " + inside);
        assertTrue(nsPid(init.pid()).endsWith("\t1"), "the init is pid 1 inside: " + nsPid(init.pid()));
        for (int fd = 0; fd <= 2; fd++) {
          assertEquals(Path.of("/dev/null"), Files.readSymbolicLink(Path.of("/proc/" + init.pid() + "/fd/" + fd)));
        }
        assertEquals(init.pid(), sleeper.ppid(), "orphans inside go to the init");
        assertNotEquals(shim, sleeper.session(), "precondition: the sleeper left the shim's session");

        List<Procs.Proc> all = inside.stream().map(p -> new Procs.Proc(p.pid(), p.startTime())).toList();
        Procs.kill(shim, 9);
        assertEquals(List.of(), Procs.awaitGone(all, Duration.ofSeconds(10)), "alive 10 s after the shim died");
        assertEquals(List.of(), inPidNamespace(pidNs));
      } finally {
        r.finish();
      }
    } finally {
      Files.deleteIfExists(socket);
      Files.deleteIfExists(socket.getParent());
    }
  }

  @Test
  void exitStatusUnderPidAndMountNamespacesIsTheProgramsOwn() throws Exception {
    RunningShim r = RunningShim.start(List.of("--unshare", "pid,mount"), List.of("sh", "-c", "exit 7"));
    ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
    assertFalse(exit.status().signaled());
    assertEquals(7, exit.status().exitCode());
    assertEquals(0, r.exitCode());
  }

  @Test
  void stopUnderAPidNamespaceEndsWithTheProgramWithoutWaitingForTheInit() throws Exception {
    RunningShim r = RunningShim.start(List.of("--unshare", "pid"), List.of("sleep", "1000"));
    try {
      int shim = r.pid();
      int program = r.next(ShimEvent.Spawned.class).pid();
      await(() -> Procs.cmdline(program), "sleep 1000"::equals, "the program's exec");
      ProcStat init = ProcStat.all().stream().filter(p -> p.ppid() == shim && p.pid() != program).findFirst()
          .orElseThrow();
      Procs.Proc initProc = new Procs.Proc(init.pid(), init.startTime());

      long start = System.nanoTime();
      r.send("STOP 5000");
      ShimEvent.Exit exit = r.next(ShimEvent.Exit.class);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertEquals(SIGTERM, exit.status().signal(), "the stop's SIGTERM ended the program: " + exit.status());
      assertTrue(took.compareTo(Duration.ofSeconds(3)) < 0, "EXIT took " + took + " (the grace was 5 s)");
      assertFalse(initProc.alive(), "the init outlived EXIT");
    } finally {
      r.finish();
    }
  }

  @Test
  void readyUnderNamespacesGivesTheWorkersPidAsTheHostSeesIt() throws Exception {
    Path socket = Files.createTempDirectory("shimns").resolve("w.sock");
    RunningShim r = RunningShim.start(List.of("--unshare", "pid,mount,ipc,net"), List.of(TestNodes.python(), "-m",
        "snakepit_worker", "--adapter", "snakepit_worker.examples.basic:BasicAdapter", "--socket", socket.toString()));
    try {
      int spawned = r.next(ShimEvent.Spawned.class).pid();
      var id = r.next(ShimEvent.Ready.class).identity();
      ProcStat python = ProcStat.read(id.pid()).orElseThrow();
      assertEquals(spawned, id.pid());
      assertEquals(python.startTime(), id.startTime());
      assertEquals(python.pgrp(), id.pgid());
      assertEquals(r.pid(), id.pgid());
      assertNotEquals(namespace(selfPid(), "pid"), namespace(id.pid(), "pid"), "the worker runs inside");
      assertTrue(Files.exists(socket), "the worker's socket, bound inside, is at its path on the host");
      r.send("STOP 2000");
      assertEquals("exited with code 0", r.next(ShimEvent.Exit.class).status().describe());
    } finally {
      r.finish();
      Files.deleteIfExists(socket);
      Files.deleteIfExists(socket.getParent());
    }
  }

  // ---- reading /proc and cgroup files ------------------------------------------------------------------------

  /** /proc/PID/limits as name → [soft, hard]; the name column is 26 characters wide. */
  private static Map<String, List<String>> limits(List<String> lines) {
    Map<String, List<String>> limits = new HashMap<>();
    for (String line : lines) {
      if (line.startsWith("Max ") && line.length() > 26) {
        String[] values = line.substring(26).trim().split("\\s+");
        limits.put(line.substring(0, 26).trim(), List.of(values[0], values[1]));
      }
    }
    return limits;
  }

  /** The program's stdout lines up to (not including) the marker line. */
  private static List<String> outUntil(RunningShim r, String marker) throws InterruptedException {
    List<String> lines = new ArrayList<>();
    for (String line = r.next(ShimEvent.Out.class).text(); !line.equals(marker);
        line = r.next(ShimEvent.Out.class).text()) {
      lines.add(line);
    }
    return lines;
  }

  private static int selfPid() {
    return (int) ProcessHandle.current().pid();
  }

  /** The namespace a process is in, as its /proc/PID/ns link names it ("net:[4026531833]"). */
  private static String namespace(int pid, String ns) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + ns)).toString();
  }

  /** The NSpid line of /proc/PID/status: the pid in each pid namespace, outermost first. */
  private static String nsPid(int pid) throws IOException {
    return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("NSpid:"))
        .findFirst().orElseThrow();
  }

  /** Every live process (not a zombie) in this pid namespace, found by scanning the host's /proc. */
  private static List<ProcStat> inPidNamespace(String ns) {
    return ProcStat.all().stream().filter(p -> p.state() != 'Z').filter(p -> {
      try {
        return namespace(p.pid(), "pid").equals(ns);
      } catch (IOException e) {
        return false; // gone meanwhile
      }
    }).toList();
  }

  /** Where a cgroup file system is mounted: cgroup2, or the v1 hierarchy holding a controller. */
  private static Path cgroupMount(String type, String controller) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
      String[] f = line.split(" ");
      if (f[2].equals(type) && (controller.isEmpty() || Arrays.asList(f[3].split(",")).contains(controller))) {
        return Path.of(f[1]);
      }
    }
    throw new IllegalStateException("no " + type + " " + controller + " mounted (see /proc/self/mounts); this test "
        + "needs cgroup2 and the v1 pids controller, as in a hybrid cgroup layout");
  }

  private static List<Integer> cgroupProcs(Path dir) {
    try {
      return Files.readAllLines(dir.resolve("cgroup.procs")).stream().map(Integer::parseInt).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long sleepers(List<Integer> pids) {
    return pids.stream().filter(pid -> Procs.cmdline(pid).equals("sleep 1000")).count();
  }

  /** Removes a test cgroup once the kernel has let go of its last process. */
  private static void removeCgroup(Path dir) throws InterruptedException {
    if (dir == null) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (;;) {
      try {
        Files.deleteIfExists(dir);
        return;
      } catch (NoSuchFileException e) {
        return;
      } catch (IOException e) {
        if (System.nanoTime() > deadline) {
          throw new UncheckedIOException("could not remove the test cgroup " + dir, e);
        }
        Thread.sleep(50);
      }
    }
  }

  /** Polls until the value satisfies the condition; fails after 10 s. */
  private static <T> T await(Supplier<T> value, Predicate<T> done, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    T v = value.get();
    while (!done.test(v)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no " + what + " within 10 s; last seen: " + v);
      }
      Thread.sleep(20);
      v = value.get();
    }
    return v;
  }

  private static String readLine(ServerSocketChannel server) {
    try (SocketChannel c = server.accept()) {
      ByteBuffer buf = ByteBuffer.allocate(64);
      while (c.read(buf) >= 0 && buf.position() < buf.limit()) {
        if (new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).contains("\n")) {
          break;
        }
      }
      return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
