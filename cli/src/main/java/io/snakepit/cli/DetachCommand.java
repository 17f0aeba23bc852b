package io.snakepit.cli;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code snakepit detach}: a planned restart of a running node. It finds the node by its instance lock in the data
 * directory, checks that the pid written there holds that lock, and sends it SIGUSR2 ({@link LockHolder}).
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
    LockHolder.Found node = LockHolder.detach(dataDir, name);
    if (!node.signalled()) {
      System.err.println("snakepit: " + node.error());
      return node.exit();
    }
    int pid = node.pid();
    System.out.println("detaching: node pid " + pid + " (instance " + name + ")");
    if (!LockHolder.awaitExit(node, Duration.ofSeconds(timeoutSeconds))) {
      System.err.println("snakepit: node pid " + pid + " did not exit within " + timeoutSeconds + " s; its own"
          + " output says how far the detach got");
      return 1;
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
