package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.snakepit.Snakepit;
import io.snakepit.testing.TestNodes;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real node's directories: the data directory ends 0700 and its lock and journal files 0600; run directories that
 * dead JVMs of the instance left are gone once it started, and its own once it stopped.
 */
class PrivateDirectoriesIT {

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void theDataDirectoryIs0700ItsFiles0600AndStaleRunDirectoriesAreRemoved(@TempDir Path tmp) throws Exception {
    Path data = Files.createDirectory(tmp.resolve("data"));
    Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x")); // as an older version made it
    Path run = Files.createDirectory(tmp.resolve("run"));
    Process ended = new ProcessBuilder("true").start();
    assertTrue(ended.waitFor(10, TimeUnit.SECONDS));
    String prefix = RunDirectory.prefix(TestNodes.INSTANCE);
    Path stale = Files.createDirectory(run.resolve(prefix + "-" + ended.pid() + "-12345"));
    Files.createFile(stale.resolve("w-1.sock"));

    ActorTestKit kit = ActorTestKit.create("node", TestNodes.config("snakepit.data-dir = \"" + data + "\"\n"
        + "snakepit.run-dir = \"" + run + "\"\n" + "snakepit.pools.default.workers = 1\n"));
    Path own;
    try {
      Snakepit snakepit = Snakepit.get(kit.system());
      snakepit.ready().toCompletableFuture().get(60, TimeUnit.SECONDS);
      assertEquals("\"pong\"", snakepit.execute("ping", "{}").toCompletableFuture().get(30, TimeUnit.SECONDS).json());

      assertEquals("rwx------", mode(data));
      List<Path> files = Files.list(data).sorted().toList();
      assertTrue(files.contains(data.resolve(TestNodes.INSTANCE + ".lock")), files.toString());
      assertTrue(files.contains(data.resolve("registry-" + TestNodes.INSTANCE + ".mv.db")), files.toString());
      assertTrue(files.contains(data.resolve("audit")), files.toString());
      for (Path f : files) {
        assertEquals(Files.isDirectory(f) ? "rwx------" : "rw-------", mode(f), f.toString());
      }
      assertEquals("rw-------", mode(AuditLog.file(data, TestNodes.INSTANCE)));
      assertFalse(Files.exists(stale, LinkOption.NOFOLLOW_LINKS), "the dead JVM's run directory is still there");
      List<Path> runDirs = Files.list(run).toList();
      assertEquals(1, runDirs.size(), runDirs.toString());
      own = runDirs.get(0);
      assertTrue(own.getFileName().toString().startsWith(prefix + "-" + ProcessHandle.current().pid() + "-"),
          own.toString());
      assertEquals("rwx------", mode(own));
      assertTrue(Files.list(own).anyMatch(p -> p.getFileName().toString().endsWith(".sock")), "no socket in " + own);
    } finally {
      kit.shutdownTestKit();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5); // removed by a termination callback
    while (Files.exists(own, LinkOption.NOFOLLOW_LINKS) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertFalse(Files.exists(own, LinkOption.NOFOLLOW_LINKS), "the node's run directory outlived its stop");
  }
}
