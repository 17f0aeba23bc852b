package io.snakepit.persistence;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;

/**
 * Creates the journal's tables if they are missing, with statements that are safe to run again (the plugin's own
 * scripts are not: they create an index without IF NOT EXISTS). The layout is the one akka-persistence-jdbc 5.x
 * reads and writes.
 */
public final class JournalSchema {

  private static final List<String> H2 = List.of(
      """
      CREATE TABLE IF NOT EXISTS "event_journal" (
        "ordering" BIGINT UNIQUE NOT NULL AUTO_INCREMENT,
        "deleted" BOOLEAN DEFAULT false NOT NULL,
        "persistence_id" VARCHAR(255) NOT NULL,
        "sequence_number" BIGINT NOT NULL,
        "writer" VARCHAR NOT NULL,
        "write_timestamp" BIGINT NOT NULL,
        "adapter_manifest" VARCHAR NOT NULL,
        "event_payload" BLOB NOT NULL,
        "event_ser_id" INTEGER NOT NULL,
        "event_ser_manifest" VARCHAR NOT NULL,
        "meta_payload" BLOB,
        "meta_ser_id" INTEGER,
        "meta_ser_manifest" VARCHAR,
        PRIMARY KEY("persistence_id", "sequence_number"))""",
      "CREATE UNIQUE INDEX IF NOT EXISTS \"event_journal_ordering_idx\" ON \"event_journal\" (\"ordering\")",
      """
      CREATE TABLE IF NOT EXISTS "event_tag" (
        "event_id" BIGINT NOT NULL,
        "tag" VARCHAR NOT NULL,
        PRIMARY KEY("event_id", "tag"),
        CONSTRAINT "fk_event_journal" FOREIGN KEY("event_id") REFERENCES "event_journal"("ordering")
          ON DELETE CASCADE)""",
      """
      CREATE TABLE IF NOT EXISTS "snapshot" (
        "persistence_id" VARCHAR(255) NOT NULL,
        "sequence_number" BIGINT NOT NULL,
        "created" BIGINT NOT NULL,
        "snapshot_ser_id" INTEGER NOT NULL,
        "snapshot_ser_manifest" VARCHAR NOT NULL,
        "snapshot_payload" BLOB NOT NULL,
        "meta_ser_id" INTEGER,
        "meta_ser_manifest" VARCHAR,
        "meta_payload" BLOB,
        PRIMARY KEY("persistence_id", "sequence_number"))""");

  private static final List<String> POSTGRES = List.of(
      """
      CREATE TABLE IF NOT EXISTS event_journal (
        ordering BIGSERIAL,
        persistence_id VARCHAR(255) NOT NULL,
        sequence_number BIGINT NOT NULL,
        deleted BOOLEAN DEFAULT FALSE NOT NULL,
        writer VARCHAR(255) NOT NULL,
        write_timestamp BIGINT,
        adapter_manifest VARCHAR(255),
        event_ser_id INTEGER NOT NULL,
        event_ser_manifest VARCHAR(255) NOT NULL,
        event_payload BYTEA NOT NULL,
        meta_ser_id INTEGER,
        meta_ser_manifest VARCHAR(255),
        meta_payload BYTEA,
        PRIMARY KEY(persistence_id, sequence_number))""",
      "CREATE UNIQUE INDEX IF NOT EXISTS event_journal_ordering_idx ON event_journal(ordering)",
      """
      CREATE TABLE IF NOT EXISTS event_tag (
        event_id BIGINT,
        tag VARCHAR(256),
        PRIMARY KEY(event_id, tag),
        CONSTRAINT fk_event_journal FOREIGN KEY(event_id) REFERENCES event_journal(ordering) ON DELETE CASCADE)""",
      """
      CREATE TABLE IF NOT EXISTS snapshot (
        persistence_id VARCHAR(255) NOT NULL,
        sequence_number BIGINT NOT NULL,
        created BIGINT NOT NULL,
        snapshot_ser_id INTEGER NOT NULL,
        snapshot_ser_manifest VARCHAR(255) NOT NULL,
        snapshot_payload BYTEA NOT NULL,
        meta_ser_id INTEGER,
        meta_ser_manifest VARCHAR(255),
        meta_payload BYTEA,
        PRIMARY KEY(persistence_id, sequence_number))""");

  private JournalSchema() {}

  /** H2's error code for a database file it cannot read. */
  private static final int H2_FILE_CORRUPTED = 90030;

  /**
   * {@link #ensure}, except that an embedded H2 file too damaged to open is renamed aside (kept for inspection) and
   * a new one created: a node that cannot open its journal could never settle what the last one left, while
   * settlement still finds those trees in /proc by their markers. Returns what was done, for the report.
   */
  public static Optional<String> ensureOrSetAside(String url, String user, String password) {
    try {
      ensure(url, user, password);
      return Optional.empty();
    } catch (IllegalStateException e) {
      Optional<Path> file = h2File(url);
      if (!(e.getCause() instanceof SQLException sql) || sql.getErrorCode() != H2_FILE_CORRUPTED || file.isEmpty()
          || !Files.isRegularFile(file.get())) {
        throw e;
      }
      Path aside = file.get().resolveSibling(file.get().getFileName() + ".damaged-" + System.currentTimeMillis());
      try {
        Files.move(file.get(), aside);
      } catch (IOException io) {
        throw new IllegalStateException("the journal " + file.get() + " is damaged (" + sql.getMessage()
            + ") and cannot be moved aside: " + io.getMessage() + ". Move it away by hand and start again", e);
      }
      ensure(url, user, password);
      return Optional.of("the journal " + file.get() + " was damaged and could not be opened (" + sql.getMessage()
          + "); it was moved to " + aside + " and a new journal started");
    }
  }

  /** The file of an embedded H2 URL ({@code jdbc:h2:[async:|file:|nio:]PATH[;options]}), if it is one. */
  public static Optional<Path> h2File(String url) {
    if (!url.startsWith("jdbc:h2:") || url.startsWith("jdbc:h2:mem:") || url.startsWith("jdbc:h2:tcp:")
        || url.startsWith("jdbc:h2:ssl:")) {
      return Optional.empty();
    }
    String path = url.substring("jdbc:h2:".length()).split(";", 2)[0];
    path = path.replaceFirst("^(async:|file:|nio:|nioMapped:)+", "");
    return Optional.of(Path.of(path + ".mv.db"));
  }

  /**
   * Refuses an embedded H2 URL whose file is relative: H2 would open it against the JVM's working directory. The URL
   * is fixed when the configuration is loaded, so a relative data-dir that derives it (reference.conf's default URL)
   * cannot follow where data-dir resolves to.
   *
   * @param rawDataDir snakepit.data-dir as configured
   * @param dataDir where it resolves to
   * @throws IllegalArgumentException naming the URL, the setting and the fix
   */
  public static void requireAbsoluteFile(String url, String rawDataDir, Path dataDir) {
    Optional<Path> file = h2File(url);
    if (file.isEmpty() || file.get().isAbsolute()) {
      return;
    }
    String derived = url.contains(rawDataDir + "/registry-") && !Path.of(rawDataDir).isAbsolute()
        ? "snakepit.data-dir is '" + rawDataDir + "', a relative path, and the journal's URL derives from it when the"
            + " configuration is loaded, before it resolves to " + dataDir + ": set snakepit.data-dir = \"" + dataDir
            + "\" (an absolute path)"
        : "the journal's URL (snakepit.registry.db.url) " + url.split(";", 2)[0] + " names a relative file, which H2"
            + " would open against the working directory: give the file an absolute path";
    throw new IllegalArgumentException(derived);
  }

  /**
   * Refuses an embedded H2 URL that lets H2 close the database in its own JVM shutdown hook: that hook runs in parallel
   * with coordinated shutdown, so it closed the journal under the last workers' exit writes, leaving their entries
   * open. The node closes the database itself ({@link #close}), after the registry's last write.
   *
   * @throws IllegalArgumentException naming the URL and the setting to add
   */
  public static void requireNoCloseOnExit(String url) {
    if (h2File(url).isPresent() && !h2SettingIsFalse(url, "DB_CLOSE_ON_EXIT")) {
      throw new IllegalArgumentException("snakepit.registry.db.url " + url.split(";", 2)[0] + " lets H2 close the"
          + " journal in its own JVM shutdown hook, under the last workers' exit writes (their entries would stay"
          + " open): add ;DB_CLOSE_ON_EXIT=FALSE to it (the node closes the database itself, after its last write)");
    }
  }

  /**
   * Refuses an embedded H2 URL that lets H2 write new data over space it freed. H2 then wrote into the blocks of a
   * chunk that its file header still led to, and a {@code kill -9} in the middle left a file it could not open: the
   * journal was set aside and the entries of the last JVMs were lost (4 of 20 in RegistryIT's kill test on a busy
   * machine). Appended only, a kill can tear only the last write, which H2 then ignores. The file grows instead,
   * and is compacted at every clean stop and, past {@code snakepit.registry.compact-above}, at start.
   *
   * @throws IllegalArgumentException naming the URL and the setting to add
   */
  public static void requireAppendOnly(String url) {
    if (h2File(url).isPresent() && !h2SettingIsFalse(url, "REUSE_SPACE")) {
      throw new IllegalArgumentException("snakepit.registry.db.url " + url.split(";", 2)[0] + " lets H2 write over"
          + " space it freed, and a kill -9 in the middle of such a write can leave a journal that cannot be opened"
          + " (the last JVMs' entries are then lost): add ;REUSE_SPACE=FALSE to it (the node compacts the file at"
          + " every clean stop, and at start past snakepit.registry.compact-above)");
    }
  }

  /** Whether the URL sets H2 setting {@code name} to FALSE (the last time it names it). */
  private static boolean h2SettingIsFalse(String url, String name) {
    boolean off = false;
    for (String setting : url.split(";")) {
      String[] kv = setting.split("=", 2);
      if (kv.length == 2 && kv[0].trim().equalsIgnoreCase(name)) {
        off = kv[1].trim().equalsIgnoreCase("FALSE");
      }
    }
    return off;
  }

  /**
   * Compacts an embedded H2 journal whose file is larger than {@code threshold} bytes ({@code SHUTDOWN COMPACT}: its
   * live data is copied into a new file), before the journal's users open it. Appended only, the file grows with
   * every write until a clean stop compacts it; a node that was killed many times compacts it here. Returns what
   * was done, for the log; nothing for other databases or a smaller file.
   *
   * @throws IllegalStateException if the database cannot be opened or compacted
   */
  public static Optional<String> compactIfLarger(String url, String user, String password, long threshold) {
    Optional<Path> file = h2File(url);
    long before;
    try {
      if (file.isEmpty() || !Files.isRegularFile(file.get()) || (before = Files.size(file.get())) <= threshold) {
        return Optional.empty();
      }
    } catch (IOException e) {
      return Optional.empty(); // gone meanwhile: nothing to compact
    }
    long start = System.nanoTime();
    shutdown(url, user, password, "SHUTDOWN COMPACT");
    long after;
    try {
      after = Files.size(file.get());
    } catch (IOException e) {
      after = -1;
    }
    return Optional.of("compacted the journal " + file.get() + " from " + before / 1024 + " KiB to "
        + (after < 0 ? "?" : after / 1024 + " KiB") + " in " + (System.nanoTime() - start) / 1_000_000 + " ms (it was"
        + " over snakepit.registry.compact-above, " + threshold / 1024 + " KiB)");
  }

  /**
   * Closes an embedded H2 database at {@code url} ({@code SHUTDOWN COMPACT}: appended only, its file holds every
   * write since the last compaction), for every connection to it: called once the registry's last write is answered, so that the database is closed by the node, in order, and never by H2's own
   * shutdown hook. Does nothing for other databases, whose connection pools close with the actor system.
   *
   * @throws IllegalStateException if the database cannot be reached or closed
   */
  public static void close(String url, String user, String password) {
    if (h2File(url).isEmpty()) {
      return;
    }
    shutdown(url, user, password, "SHUTDOWN COMPACT");
  }

  /** Runs {@code statement}, a SHUTDOWN, on the embedded H2 database at {@code url} if it exists. */
  private static void shutdown(String url, String user, String password, String statement) {
    // IFEXISTS: a database that is already gone (its files removed) is not created again just to be closed.
    String existing = url.toUpperCase(java.util.Locale.ROOT).contains(";IFEXISTS=") ? url : url + ";IFEXISTS=TRUE";
    try (Connection c = DriverManager.getConnection(existing, user, password); Statement s = c.createStatement()) {
      s.execute(statement);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot close the worker registry's journal at " + url.split(";", 2)[0] + ": "
          + e.getMessage(), e);
    }
  }

  /** Creates whatever is missing in the database at {@code url}. */
  public static void ensure(String url, String user, String password) {
    List<String> ddl = url.startsWith("jdbc:postgresql:") ? POSTGRES : H2;
    try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
      for (String statement : ddl) {
        s.execute(statement);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot prepare the worker registry's journal at " + url + ": "
          + e.getMessage() + ". Check snakepit.registry.db (url, user, password) and that the database is reachable",
          e);
    }
  }
}
