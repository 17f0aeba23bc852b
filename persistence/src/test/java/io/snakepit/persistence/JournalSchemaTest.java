package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/**
 * The journal's database: H2's own shutdown hook stays off, H2 only appends, a grown file is compacted, and the
 * node's close really closes it.
 */
class JournalSchemaTest {

  @Test
  void anEmbeddedH2UrlThatLetsH2CloseOnExitIsRefusedNamingTheFix() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JournalSchema.requireNoCloseOnExit("jdbc:h2:async:/tmp/x/registry-a;WRITE_DELAY=0"));
    assertTrue(e.getMessage().contains("/tmp/x/registry-a") && e.getMessage().contains(";DB_CLOSE_ON_EXIT=FALSE"),
        e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> JournalSchema.requireNoCloseOnExit("jdbc:h2:/tmp/x/r;DB_CLOSE_ON_EXIT=TRUE"));
  }

  @Test
  void urlsWithTheHookOffOrOfOtherDatabasesAreAccepted() {
    assertDoesNotThrow(() -> JournalSchema.requireNoCloseOnExit(
        "jdbc:h2:async:/tmp/x/registry-a;WRITE_DELAY=0;db_close_on_exit=false"));
    assertDoesNotThrow(() -> JournalSchema.requireNoCloseOnExit("jdbc:h2:tcp://db:9092/registry"));
    assertDoesNotThrow(() -> JournalSchema.requireNoCloseOnExit("jdbc:postgresql://db:5432/snakepit"));
  }

  @Test
  void anEmbeddedH2UrlThatLetsH2WriteOverFreedSpaceIsRefusedNamingTheFix() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JournalSchema.requireAppendOnly(
        "jdbc:h2:async:/tmp/x/registry-a;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE"));
    assertTrue(e.getMessage().contains("/tmp/x/registry-a") && e.getMessage().contains(";REUSE_SPACE=FALSE"),
        e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> JournalSchema.requireAppendOnly("jdbc:h2:/tmp/x/r;REUSE_SPACE=FALSE;REUSE_SPACE=TRUE"));
    assertDoesNotThrow(() -> JournalSchema.requireAppendOnly("jdbc:h2:/tmp/x/r;reuse_space=false"));
    assertDoesNotThrow(() -> JournalSchema.requireAppendOnly("jdbc:h2:tcp://db:9092/registry"));
    assertDoesNotThrow(() -> JournalSchema.requireAppendOnly("jdbc:postgresql://db:5432/snakepit"));
  }

  /** Appended only, the file grows with every write; past the threshold it is compacted, keeping every row. */
  @Test
  void aJournalFileOverTheThresholdIsCompactedKeepingItsRows() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-journal");
    String url = "jdbc:h2:async:" + dir.resolve("registry-t") + ";WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE"
        + ";REUSE_SPACE=FALSE";
    Path file = JournalSchema.h2File(url).orElseThrow();
    try (var c = DriverManager.getConnection(url, "sa", ""); var s = c.createStatement()) {
      s.execute("CREATE TABLE t(id INT PRIMARY KEY, pad VARCHAR(2000))");
      for (int i = 0; i < 300; i++) { // each an autocommitted write, appended
        s.execute("MERGE INTO t VALUES(" + (i % 10) + ", '" + "x".repeat(1500) + "')");
      }
    }
    JournalSchema.close(url, "sa", ""); // (the node's close compacts too: grow it again below)
    try (var c = DriverManager.getConnection(url, "sa", ""); var s = c.createStatement()) {
      for (int i = 0; i < 300; i++) {
        s.execute("MERGE INTO t VALUES(" + (i % 10) + ", '" + "y".repeat(1500) + "')");
      }
    }
    long grown = Files.size(file);
    assertTrue(grown > 1024 * 1024, "300 appended writes grew the file to " + grown + " bytes only");
    assertTrue(JournalSchema.compactIfLarger(url, "sa", "", grown + 1).isEmpty(), "compacted under the threshold");
    String done = JournalSchema.compactIfLarger(url, "sa", "", 1024 * 1024).orElseThrow();
    long compacted = Files.size(file);
    assertTrue(compacted < grown / 10, done + ": " + grown + " -> " + compacted + " bytes");
    assertTrue(done.startsWith("compacted the journal " + file), done);
    try (var c = DriverManager.getConnection(url, "sa", ""); var s = c.createStatement();
        var rows = s.executeQuery("SELECT COUNT(*), MIN(pad) FROM t")) {
      rows.next();
      assertEquals(10, rows.getInt(1));
      assertEquals("y".repeat(1500), rows.getString(2));
    }
    JournalSchema.close(url, "sa", "");
  }

  @Test
  void closeShutsTheDatabaseDownForEveryConnection() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-journal");
    String url = "jdbc:h2:async:" + dir.resolve("registry-t") + ";WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE";
    JournalSchema.ensure(url, "sa", "");
    try (var open = DriverManager.getConnection(url, "sa", "")) {
      JournalSchema.close(url, "sa", "");
      assertThrows(SQLException.class, () -> open.createStatement().execute("SELECT 1"),
          "a connection opened before the close still works: the database was not closed");
    }
  }

  @Test
  void aJournalUrlDerivedFromARelativeDataDirIsRefusedNamingTheAbsolutePathToSet() {
    String url = "jdbc:h2:async:state/registry-n1;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JournalSchema.requireAbsoluteFile(url, "state", Path.of("/etc/app/state")));
    assertTrue(e.getMessage().equals("snakepit.data-dir is 'state', a relative path, and the journal's URL derives"
        + " from it when the configuration is loaded, before it resolves to /etc/app/state: set snakepit.data-dir ="
        + " \"/etc/app/state\" (an absolute path)"), e.getMessage());
    IllegalArgumentException own = assertThrows(IllegalArgumentException.class, () -> JournalSchema
        .requireAbsoluteFile("jdbc:h2:./j;DB_CLOSE_ON_EXIT=FALSE", "/var/lib/x", Path.of("/var/lib/x")));
    assertTrue(own.getMessage().startsWith("the journal's URL (snakepit.registry.db.url) jdbc:h2:./j names a"
        + " relative file"), own.getMessage());
    assertDoesNotThrow(() -> JournalSchema.requireAbsoluteFile("jdbc:h2:async:/var/lib/x/registry-n1;A=B",
        "/var/lib/x", Path.of("/var/lib/x")));
    assertDoesNotThrow(() -> JournalSchema.requireAbsoluteFile("jdbc:postgresql://db/snakepit", "state",
        Path.of("/etc/app/state")));
  }
}
