package io.snakepit.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** What this JVM holds: heap that is still reachable, and open descriptors. */
final class JvmUsage {

  private JvmUsage() {}

  /** Heap in use after full collections, in KiB: the least of three readings, each after System.gc(). */
  static double heapAfterGcKiB() throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used / 1024.0;
  }

  /** Open descriptors, as /proc/self/fd lists them, less the one that lists them. */
  static double openFds() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.count() - 1;
    }
  }
}
