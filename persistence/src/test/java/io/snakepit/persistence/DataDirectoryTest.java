package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.shim.PrivateDirectory;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data directory in real directories: 0700, files 0600, refused when another user's. */
class DataDirectoryTest {

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void aMissingDataDirectoryIsCreated0700WithItsParents(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("var/lib/data");
    assertEquals(Optional.empty(), DataDirectory.prepare(dir));
    assertEquals("rwx------", mode(dir));
  }

  @Test
  void anOpenDataDirectoryOfOursIsNarrowedTo0700AndSaysSo(@TempDir Path tmp) throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("data"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Optional<String> warning = DataDirectory.prepare(dir);
    assertTrue(warning.orElseThrow().contains(dir + " had mode 0755: narrowed to 0700"), warning.toString());
    assertEquals("rwx------", mode(dir));
  }

  @Test
  void aSymlinkToADirectoryOfOursIsFollowedAndItsTargetNarrowed(@TempDir Path tmp) throws Exception {
    Path disk = Files.createDirectory(tmp.resolve("disk"));
    Files.setPosixFilePermissions(disk, PosixFilePermissions.fromString("rwxr-x---"));
    Path link = Files.createSymbolicLink(tmp.resolve("data"), disk);
    assertTrue(DataDirectory.prepare(link).isPresent());
    assertEquals("rwx------", mode(disk));
    assertTrue(Files.isSymbolicLink(link));
  }

  @Test
  void aDataDirectoryOfAnotherUserIsRefusedAndLeftAsItWas(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(PrivateDirectory.uid() == 0, "needs root to make a directory owned by another user");
    Path dir = Files.createDirectory(tmp.resolve("data"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setOwner(dir, dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("65534"));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> DataDirectory.prepare(dir));
    assertTrue(e.getMessage().contains(dir + " is owned by uid 65534") && e.getMessage().contains("--data-dir"),
        e.getMessage());
    assertEquals("rwxr-xr-x", mode(dir));
    Path link = Files.createSymbolicLink(tmp.resolve("link"), dir);
    e = assertThrows(IllegalStateException.class, () -> DataDirectory.prepare(link));
    assertTrue(e.getMessage().contains("(" + dir.toRealPath() + ") is owned by uid 65534"), e.getMessage());
  }

  @Test
  void theLockFileIs0600EvenWhenAnEarlierVersionMadeIt0644(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("data");
    try (InstanceLock lock = InstanceLock.acquire(dir, "node1")) {
      assertEquals("rw-------", mode(lock.path()));
    }
    Files.setPosixFilePermissions(InstanceLock.file(dir, "node1"), PosixFilePermissions.fromString("rw-r--r--"));
    try (InstanceLock lock = InstanceLock.acquire(dir, "node1")) {
      assertEquals("rw-------", mode(lock.path()));
    }
    assertEquals("rwx------", mode(dir));
  }

  @Test
  void restrictFilesNarrowsTheNamedFilesOnlyAndNeverThroughASymlink(@TempDir Path tmp) throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("data"), PrivateDirectory.DIRECTORY_MODE);
    Path db = Files.createFile(dir.resolve("registry-node1.mv.db"));
    Path other = Files.createFile(dir.resolve("notes.txt"));
    Path outside = Files.createFile(tmp.resolve("outside"));
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rw-r--r--"));
    Files.createSymbolicLink(dir.resolve("registry-node1.trace.db"), outside);
    for (Path p : new Path[] {db, other}) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
    }
    DataDirectory.restrictFiles(dir, "registry-node1.");
    assertEquals("rw-------", mode(db));
    assertEquals("rw-r--r--", mode(other));
    assertEquals("rw-r--r--", mode(outside));
  }
}
