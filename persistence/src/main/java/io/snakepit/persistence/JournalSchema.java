package io.snakepit.persistence;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

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
