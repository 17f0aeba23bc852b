package io.snakepit.persistence;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/**
 * The claim of one live JVM on one persistence id in a shared PostgreSQL journal: a session advisory lock, held on a
 * connection of its own for the registry's life. The instance lock is a file in the data directory, so it cannot
 * stop two nodes on one host with the same instance name and different data directories; in one shared database
 * they would write the same persistence id. PostgreSQL drops the lock with the session, so a JVM killed by any
 * means releases it as its connection closes. The embedded H2 journal lives in the data directory: the instance lock
 * covers it.
 */
final class JournalLease implements AutoCloseable {
  private final Connection connection;

  private JournalLease(Connection connection) {
    this.connection = connection;
  }

  /**
   * Takes the lease of {@code persistenceId} in the database at {@code url}, or returns empty for a journal that is
   * not PostgreSQL.
   *
   * @throws IllegalStateException if a live session holds it, or the database cannot be reached
   */
  static Optional<JournalLease> acquire(String url, String user, String password, String persistenceId) {
    if (!url.startsWith("jdbc:postgresql:")) {
      return Optional.empty();
    }
    String where = url.split("\\?", 2)[0]; // a URL's query may hold a password
    Connection c = null;
    try {
      c = DriverManager.getConnection(url, user, password);
      try (PreparedStatement s = c.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
        s.setLong(1, key(persistenceId));
        try (ResultSet r = s.executeQuery()) {
          if (r.next() && r.getBoolean(1)) {
            return Optional.of(new JournalLease(c));
          }
        }
      }
      c.close();
      throw new IllegalStateException("the journal " + persistenceId + " in " + where + " is in use by another live"
          + " JVM: a node on this host with the same instance name and another data directory shares this"
          + " database. Give this node another name (snakepit.instance, or --instance), or stop the other node");
    } catch (SQLException e) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (SQLException ignored) {
        // The failure to report is the first one.
      }
      throw new IllegalStateException("cannot claim the journal " + persistenceId + " in " + where + ": "
          + e.getMessage() + ". Check snakepit.registry.db (url, user, password) and that the database runs", e);
    }
  }

  /** The advisory lock's key: the first 8 bytes of the persistence id's SHA-256. */
  static long key(String persistenceId) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(persistenceId.getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.wrap(digest, 0, 8).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    try {
      connection.close();
    } catch (SQLException e) {
      // The session ends with the connection either way.
    }
  }
}
