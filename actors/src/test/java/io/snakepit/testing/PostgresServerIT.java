package io.snakepit.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The fixture gives a real PostgreSQL server that answers, stores, keeps its durability settings and is not root. */
class PostgresServerIT {

  private static PostgresServer server;

  @BeforeAll
  static void startServer() {
    Requires.postgres();
    server = PostgresServer.shared();
  }

  @Test
  void answersSelectOne() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select 1")) {
      assertTrue(rs.next());
      assertEquals(1, rs.getInt(1));
      assertFalse(rs.next());
    }
  }

  @Test
  void storesARowAndReadsItBack() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      s.execute("drop table if exists fixture_rows");
      s.execute("create table fixture_rows (id bigint primary key, name text not null)");
      try (PreparedStatement insert = c.prepareStatement("insert into fixture_rows (id, name) values (?, ?)")) {
        insert.setLong(1, 42L);
        insert.setString(2, "sñake");
        assertEquals(1, insert.executeUpdate());
      }
      try (ResultSet rs = s.executeQuery("select id, name from fixture_rows")) {
        assertTrue(rs.next());
        assertEquals(42L, rs.getLong("id"));
        assertEquals("sñake", rs.getString("name"));
        assertFalse(rs.next());
      }
      s.execute("drop table fixture_rows");
    }
  }

  @Test
  void keepsFsyncAndSynchronousCommitOn() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      assertEquals("on", show(s, "fsync"));
      assertEquals("on", show(s, "synchronous_commit"));
      assertEquals("UTF8", show(s, "server_encoding"));
    }
  }

  @Test
  void postmasterRunsAsANonRootUser() throws IOException {
    String uidLine = Files.readAllLines(Path.of("/proc/" + server.pid() + "/status")).stream()
        .filter(l -> l.startsWith("Uid:"))
        .findFirst()
        .orElseThrow();
    String effectiveUid = uidLine.substring("Uid:".length()).trim().split("\\s+")[1];
    assertNotEquals("0", effectiveUid, "postmaster " + server.pid() + " runs as root: " + uidLine);
  }

  @Test
  void sharedReturnsTheSameServer() {
    assertSame(server, PostgresServer.shared());
    assertTrue(server.jdbcUrl().matches("jdbc:postgresql://127\\.0\\.0\\.1:\\d+/snakepit"), server.jdbcUrl());
  }

  private static String show(Statement s, String setting) throws SQLException {
    try (ResultSet rs = s.executeQuery("show " + setting)) {
      assertTrue(rs.next());
      return rs.getString(1);
    }
  }

  private static Connection connect() throws SQLException {
    return DriverManager.getConnection(server.jdbcUrl(), server.user(), server.password());
  }
}
