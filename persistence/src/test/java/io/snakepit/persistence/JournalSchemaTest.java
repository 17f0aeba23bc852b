package io.snakepit.persistence;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/** The journal's database: H2's own shutdown hook stays off, and the node's close really closes it. */
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
