package io.snakepit.cli;

import com.typesafe.config.ConfigFactory;
import io.snakepit.persistence.InstanceLock;
import io.snakepit.shim.Pidfd;
import io.snakepit.shim.ProcStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code snakepit detach}: a planned restart of a running node. It finds the node by its instance lock in the data
 * directory, checks that the pid written there holds that lock, and sends it SIGUSR2 ({@link PlannedRestart}).
 */
@Command(name = "detach", mixinStandardHelpOptions = true,
    description = "A planned restart: the node of this data directory and instance stops taking calls, lets the"
        + " calls in flight finish (within each pool's stop-grace), leaves every worker running for the next node"
        + " for its adopt-window (serve --adopt-window, default 60s), journals that, and exits 0. Waits for it to"
        + " exit and prints 'detached: node pid P exited'. A worker the next node does not take within the window"
        + " ends. Exit 1 if the node did not exit within --timeout, 3 if no node runs there.")
final class DetachCommand implements Callable<Integer> {

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
      description = "The node's --data-dir, where its instance lock is (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--instance", paramLabel = "NAME",
      description = "The node's --instance (default: snakepit.instance, \"default\").")
  String instance;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300",
      description = "How long to wait for the node to exit (default ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  public Integer call() throws Exception {
    String name = instance != null ? instance : ConfigFactory.load().getString("snakepit.instance");
    Path lock = InstanceLock.file(dataDir, name).toAbsolutePath().normalize();
    if (!Files.exists(lock)) {
      System.err.println("snakepit: no node of instance '" + name + "' has run with data directory "
          + dataDir.toAbsolutePath().normalize() + " (no " + lock + "): give the node's --data-dir and --instance");
      return 3;
    }
    String holder = InstanceLock.holder(dataDir, name);
    int pid;
    try {
      pid = Integer.parseInt(holder);
    } catch (NumberFormatException e) {
      System.err.println("snakepit: " + lock + " names no pid ('" + holder + "'): no node runs there");
      return 3;
    }
    Optional<Pidfd> handle = Pidfd.open(pid);
    if (handle.isEmpty()) {
      System.err.println("snakepit: no node of instance '" + name + "' runs (pid " + pid + " in " + lock
          + " is gone)");
      return 3;
    }
    long startTime;
    try (Pidfd node = handle.get()) {
      // Held open by pidfd: the pid cannot be reused before the signal. It must hold the instance's lock now.
      Optional<ProcStat> stat = ProcStat.read(pid);
      if (stat.isEmpty() || !NodeLocks.holds(pid, lock)) {
        System.err.println("snakepit: no node of instance '" + name + "' runs: pid " + pid + " (named in " + lock
            + ") does not hold that lock; nothing was signalled");
        return 3;
      }
      startTime = stat.get().startTime();
      if (!node.signal(PlannedRestart.SIGNAL_NUMBER)) {
        System.err.println("snakepit: cannot signal the node (pid " + pid + "): run as the node's user");
        return 1;
      }
    }
    System.out.println("detaching: node pid " + pid + " (instance " + name + ")");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (ProcStat.isAlive(pid, startTime)) {
      if (System.nanoTime() > deadline) {
        System.err.println("snakepit: node pid " + pid + " did not exit within " + timeoutSeconds + " s; its own"
            + " output says how far the detach got");
        return 1;
      }
      Thread.sleep(50);
    }
    System.out.println("detached: node pid " + pid + " exited; its workers wait for the next 'snakepit serve'"
        + " with this data directory and instance");
    return 0;
  }

  /** Which process holds a lock, from /proc/locks. */
  static final class NodeLocks {
    private NodeLocks() {}

    /** Whether {@code pid} holds a lock on {@code file} (the file's device and inode, as /proc/locks lists them). */
    static boolean holds(int pid, Path file) throws IOException {
      Object key = Files.readAttributes(file, "unix:ino,dev").get("ino");
      long inode = ((Number) key).longValue();
      for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
        // "1: POSIX  ADVISORY  WRITE 12345 08:01:1234567 0 EOF" (blocked waiters carry "->" and are skipped)
        String[] f = line.trim().split("\\s+");
        if (f.length < 6 || line.contains("->")) {
          continue;
        }
        String[] devInode = f[5].split(":");
        if (f[4].equals(Integer.toString(pid)) && devInode.length == 3
            && Long.parseLong(devInode[2]) == inode) {
          return true;
        }
      }
      return false;
    }
  }
}
