package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.shim.PrivateDirectory;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The socket directory's base, made in real directories: created 0700, refused when it is not this user's own. */
class RunDirectoryTest {
  private static final int NOBODY = 65534;

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  private static Path base(Path tmp) {
    return tmp.resolve("snakepit-" + PrivateDirectory.uid());
  }

  private static void giveToNobody(Path p) throws Exception {
    Assumptions.assumeTrue(PrivateDirectory.uid() == 0, "needs root to make a directory owned by another user");
    UserPrincipal nobody = p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("" + NOBODY);
    Files.setOwner(p, nobody);
  }

  @Test
  void theDefaultBaseIsCreated0700InTheTempDirectory(@TempDir Path tmp) throws Exception {
    Path base = RunDirectory.base("", Map.of(), tmp);
    assertEquals(base(tmp), base);
    assertEquals("rwx------", mode(base));
    assertEquals(base, RunDirectory.base("", Map.of(), tmp), "the node's own base is taken again");
  }

  @Test
  void aBaseMadeInAdvanceByAnotherUserIsRefused(@TempDir Path tmp) throws Exception {
    Path base = Files.createDirectory(base(tmp), PrivateDirectory.DIRECTORY_MODE);
    giveToNobody(base);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunDirectory.base("", Map.of(), tmp));
    assertTrue(e.getMessage().contains(base + " is owned by uid " + NOBODY), e.getMessage());
    assertTrue(e.getMessage().contains("Remove it") && e.getMessage().contains("snakepit.run-dir")
        && e.getMessage().contains("XDG_RUNTIME_DIR"), e.getMessage());
  }

  @Test
  void aBaseThatIsASymlinkIsRefusedAndItsTargetIsLeftAsItWas(@TempDir Path tmp) throws Exception {
    Path target = Files.createDirectory(tmp.resolve("elsewhere"));
    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createSymbolicLink(base(tmp), target);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunDirectory.base("", Map.of(), tmp));
    assertTrue(e.getMessage().contains(base(tmp) + " is a symlink to " + target), e.getMessage());
    assertEquals("rwxr-xr-x", mode(target));
    assertEquals(List.of(), Files.list(target).toList());
  }

  @Test
  void aBaseOfOursThatOthersCanReadIsRefusedAndNotChanged(@TempDir Path tmp) throws Exception {
    Path base = Files.createDirectory(base(tmp));
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunDirectory.base("", Map.of(), tmp));
    assertTrue(e.getMessage().contains(base + " has mode 0755"), e.getMessage());
    assertEquals("rwxr-xr-x", mode(base));
  }

  @Test
  void aPrivateXdgRuntimeDirIsPreferredAndAnOpenOneIsPassedOver(@TempDir Path tmp) throws Exception {
    Path xdg = Files.createDirectory(tmp.resolve("xdg"), PrivateDirectory.DIRECTORY_MODE);
    Path tmpdir = Files.createDirectory(tmp.resolve("tmp"));
    assertEquals(xdg.resolve("snakepit"), RunDirectory.base("", Map.of("XDG_RUNTIME_DIR", xdg.toString()), tmpdir));
    assertEquals("rwx------", mode(xdg.resolve("snakepit")));
    Path open = Files.createDirectory(tmp.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertEquals(base(tmpdir), RunDirectory.base("", Map.of("XDG_RUNTIME_DIR", open.toString()), tmpdir));
    assertFalse(Files.exists(open.resolve("snakepit")));
  }

  @Test
  void aConfiguredRunDirMayBeReadableByOthersButNotWritableNorALinkNorAnotherUsers(@TempDir Path tmp)
      throws Exception {
    Path readable = Files.createDirectory(tmp.resolve("readable"));
    Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertEquals(readable, RunDirectory.base(readable.toString(), Map.of(), tmp));
    Path made = tmp.resolve("a/b/run");
    assertEquals(made, RunDirectory.base(made.toString(), Map.of(), tmp));
    assertEquals("rwx------", mode(made));

    Path writable = Files.createDirectory(tmp.resolve("writable"));
    Files.setPosixFilePermissions(writable, PosixFilePermissions.fromString("rwxrwxr-x"));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> RunDirectory.base(writable.toString(), Map.of(), tmp));
    assertTrue(e.getMessage().contains("snakepit.run-dir " + writable + " has mode 0775"), e.getMessage());
    assertEquals("rwxrwxr-x", mode(writable));

    Path link = Files.createSymbolicLink(tmp.resolve("link"), readable);
    e = assertThrows(IllegalStateException.class, () -> RunDirectory.base(link.toString(), Map.of(), tmp));
    assertTrue(e.getMessage().contains("is a symlink to " + readable), e.getMessage());

    giveToNobody(readable);
    e = assertThrows(IllegalStateException.class, () -> RunDirectory.base(readable.toString(), Map.of(), tmp));
    assertTrue(e.getMessage().contains("is owned by uid " + NOBODY), e.getMessage());
  }

  @Test
  void runDirectoriesOfDeadJvmsOfTheInstanceAreRemovedAndNothingElse(@TempDir Path tmp) throws Exception {
    Path base = RunDirectory.base("", Map.of(), tmp);
    long ownPid = ProcessHandle.current().pid();
    Process ended = new ProcessBuilder("true").start();
    assertTrue(ended.waitFor(10, TimeUnit.SECONDS));
    long deadPid = ended.pid();
    long parentPid = ProcessHandle.current().parent().orElseThrow().pid(); // started before these directories
    Path dead = Files.createDirectories(base.resolve("node1-" + deadPid + "-123").resolve("bundles"));
    Files.createFile(dead.resolve("w-1.sock"));
    Path own = Files.createDirectory(base.resolve("node1-" + ownPid + "-456"));
    Path live = Files.createDirectory(base.resolve("node1-" + parentPid + "-789"));
    Path otherInstance = Files.createDirectory(base.resolve("node2-" + deadPid + "-123"));
    Path outside = Files.createDirectory(tmp.resolve("outside"));
    Path outsideFile = Files.createFile(outside.resolve("keep"));
    Path link = Files.createSymbolicLink(base.resolve("node1-" + deadPid + "-lnk"), outside);
    Process reused = new ProcessBuilder("sleep", "30").start();
    try {
      // A directory changed an hour before the process that now has its pid started: that pid was reused.
      Path reusedDir = Files.createDirectory(base.resolve("node1-" + reused.pid() + "-999"));
      Files.setLastModifiedTime(reusedDir, FileTime.from(Instant.now().minus(Duration.ofHours(1))));

      List<Path> removed = RunDirectory.removeStale(base, "node1", ownPid);

      assertEquals(List.of(dead.getParent(), reusedDir).stream().sorted().toList(), removed.stream().sorted().toList());
      assertFalse(Files.exists(dead.getParent(), LinkOption.NOFOLLOW_LINKS));
      assertFalse(Files.exists(reusedDir, LinkOption.NOFOLLOW_LINKS));
      assertTrue(Files.isDirectory(own) && Files.isDirectory(live) && Files.isDirectory(otherInstance));
      assertTrue(Files.isSymbolicLink(link) && Files.exists(outsideFile), "a symlink is neither followed nor taken");
    } finally {
      reused.destroy();
      assertTrue(reused.waitFor(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void aDeadJvmsRunDirectoryStaysWhileAShimWaitsInItOrALiveNodeAdoptedItsWorkers(@TempDir Path tmp)
      throws Exception {
    Path base = RunDirectory.base("", Map.of(), tmp);
    Process ended = new ProcessBuilder("true").start();
    assertTrue(ended.waitFor(10, TimeUnit.SECONDS));
    long deadPid = ended.pid();
    Path waiting = Files.createDirectory(base.resolve("node1-" + deadPid + "-1"));
    Files.createFile(waiting.resolve("node1-0-1.ctl")); // a detached shim's control socket
    Path adopted = Files.createDirectory(base.resolve("node1-" + deadPid + "-2"));
    Files.createFile(adopted.resolve("node1-0-1.sock"));
    RunDirectory.markAdopted(adopted); // by this JVM, alive
    Path adoptedByTheDead = Files.createDirectory(base.resolve("node1-" + deadPid + "-3"));
    Files.createFile(adoptedByTheDead.resolve("adopted-by-" + deadPid));

    List<Path> removed = RunDirectory.removeStale(base, "node1", ProcessHandle.current().pid());

    assertEquals(List.of(adoptedByTheDead), removed, "only the directory no live node or waiting shim holds");
    assertTrue(Files.isDirectory(waiting) && Files.isDirectory(adopted));
  }

  @Test
  void aWorkerIdNamesItsSlotAndGeneration() {
    assertArrayEquals(new int[] {2, 5}, io.snakepit.actors.worker.Adoption.slotAndGeneration("my-pool-2-5"));
    assertArrayEquals(new int[] {-1, -1}, io.snakepit.actors.worker.Adoption.slotAndGeneration("odd"));
  }

  @Test
  void aNodesRunDirectoryIs0700InItsBase() throws Exception {
    Path dir = RunDirectory.create("", "test-" + ProcessHandle.current().pid());
    try {
      assertEquals("rwx------", mode(dir));
      assertTrue(dir.getFileName().toString().startsWith("test-" + ProcessHandle.current().pid() + "-"
          + ProcessHandle.current().pid() + "-"), dir.toString());
      assertEquals("rwx------", mode(dir.getParent()));
    } finally {
      Files.delete(dir);
    }
  }
}
