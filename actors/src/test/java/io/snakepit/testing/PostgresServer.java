package io.snakepit.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private PostgreSQL server for integration tests, started once per JVM from Debian's packaged binaries
 * ({@code apt-get install postgresql}) and stopped by a JVM shutdown hook.
 *
 * <p>The cluster lives in its own directory under /tmp, listens on a free port on 127.0.0.1 only (its unix socket sits
 * in that directory, never in /var/run/postgresql) and trusts every connection. It keeps PostgreSQL's durability
 * defaults ({@code fsync}, {@code synchronous_commit}), so tests of what survives a crash test the real thing.
 *
 * <p>PostgreSQL refuses to run as root. Under root, initdb and pg_ctl run as the {@code postgres} user that the Debian
 * package creates (through {@code runuser}), and the cluster directory belongs to that user; otherwise they run as the
 * current user.
 *
 * <p>Thread-safe: {@link #shared()} is synchronized and a server's accessors return immutable values.
 */
public final class PostgresServer {

  private static final String DATABASE = "snakepit";
  private static final String USER = "snakepit";
  // Authentication is trust: the server never asks for this; it exists for configurations that insist on one.
  private static final String PASSWORD = "snakepit";
  private static final String SERVER_OS_USER = "postgres";
  // By path: a root shell's PATH need not include /usr/sbin.
  private static final String RUNUSER =
      Files.isExecutable(Path.of("/usr/sbin/runuser")) ? "/usr/sbin/runuser" : "runuser";
  private static final Path INSTALLS = Path.of("/usr/lib/postgresql");
  private static final List<String> TOOLS = List.of("initdb", "pg_ctl", "postgres");
  private static final Duration READY_WITHIN = Duration.ofSeconds(30);
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(90);
  // The free port is probed, then bound by postgres: another process can take it in between.
  private static final int START_ATTEMPTS = 3;
  private static final int LOG_TAIL_LINES = 40;

  private static PostgresServer shared;
  private static RuntimeException sharedFailure;

  private final Cluster cluster;
  private final int port;
  private final ProcessHandle postmaster;

  private PostgresServer(Cluster cluster, int port, ProcessHandle postmaster) {
    this.cluster = cluster;
    this.port = port;
    this.postmaster = postmaster;
  }

  /**
   * The server of this JVM, started on first call; later calls return the same one. A failure to start is remembered
   * and thrown again, so that every test after the first fails at once instead of waiting again.
   *
   * @throws IllegalStateException if the server binaries are missing or the server does not start; the message says
   *     why and includes the tools' output
   */
  public static synchronized PostgresServer shared() {
    if (shared != null) {
      return shared;
    }
    if (sharedFailure != null) {
      throw new IllegalStateException(
          "the shared PostgreSQL server failed to start earlier in this JVM: " + sharedFailure.getMessage(),
          sharedFailure);
    }
    try {
      shared = start();
      return shared;
    } catch (RuntimeException e) {
      sharedFailure = e;
      throw e;
    }
  }

  /** The JDBC URL of the {@code snakepit} database, e.g. {@code jdbc:postgresql://127.0.0.1:PORT/snakepit}. */
  public String jdbcUrl() {
    return jdbcUrl(DATABASE);
  }

  /** The database user, a superuser. */
  public String user() {
    return USER;
  }

  /** A password for {@link #user()}; the server uses trust authentication, so it never checks it. */
  public String password() {
    return PASSWORD;
  }

  /** The postmaster's pid, for tests that look at the server in /proc. */
  public long pid() {
    return postmaster.pid();
  }

  @Override
  public String toString() {
    return "PostgreSQL " + cluster.bin.getParent().getFileName() + " on 127.0.0.1:" + port + " (pid "
        + postmaster.pid() + ", " + cluster.dir + ")";
  }

  private String jdbcUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  private static PostgresServer start() {
    Path bin = findBinaries();
    boolean root = effectiveUid() == 0;
    Cluster cluster = Cluster.create(bin, root);
    try {
      cluster.initdb();
      int port = cluster.startOnFreePort();
      PostgresServer server = new PostgresServer(cluster, port, cluster.postmaster());
      server.awaitAcceptingConnections();
      server.createDatabase();
      Runtime.getRuntime().addShutdownHook(new Thread(cluster::stopAndDelete, "snakepit-postgres-stop"));
      return server;
    } catch (RuntimeException | Error e) {
      cluster.stopAndDelete();
      throw e;
    }
  }

  /** Why the server cannot be started here (its binaries are not installed), or empty if they are. */
  public static java.util.Optional<String> missing() {
    try {
      findBinaries();
      return java.util.Optional.empty();
    } catch (IllegalStateException e) {
      return java.util.Optional.of(e.getMessage());
    }
  }

  /** The newest /usr/lib/postgresql/VERSION/bin that has all of initdb, pg_ctl and postgres. */
  private static Path findBinaries() {
    List<Path> versions = new ArrayList<>();
    if (Files.isDirectory(INSTALLS)) {
      try (Stream<Path> entries = Files.list(INSTALLS)) {
        entries.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)*"))
            .filter(v -> TOOLS.stream().allMatch(t -> Files.isExecutable(v.resolve("bin").resolve(t))))
            .forEach(versions::add);
      } catch (IOException e) {
        throw new UncheckedIOException("could not list " + INSTALLS, e);
      }
    }
    return versions.stream()
        .max(Comparator.comparing((Path v) -> v.getFileName().toString(), PostgresServer::compareVersions))
        .map(v -> v.resolve("bin"))
        .orElseThrow(() -> new IllegalStateException(
            "PostgreSQL's server binaries are not installed: apt-get install postgresql (the persistence tests start"
                + " a private server from them; looked for " + String.join(", ", TOOLS) + " in "
                + INSTALLS + "/*/bin)"));
  }

  private static int compareVersions(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      int c = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0, i < y.length ? Integer.parseInt(y[i]) : 0);
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }

  /** The effective uid of this JVM, from the second field of the Uid line of /proc/self/status. */
  private static int effectiveUid() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return Integer.parseInt(line.substring("Uid:".length()).trim().split("\\s+")[1]);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not read /proc/self/status to tell whether this JVM runs as root", e);
    }
    throw new IllegalStateException("/proc/self/status has no Uid line: cannot tell whether this JVM runs as root");
  }

  private void awaitAcceptingConnections() {
    long deadline = System.nanoTime() + READY_WITHIN.toNanos();
    while (true) {
      try {
        connect("postgres").close();
        return;
      } catch (SQLException e) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("PostgreSQL (" + this + ") did not accept a JDBC connection within "
              + READY_WITHIN.toSeconds() + " s: " + e.getMessage() + "\n" + cluster.logTail(), e);
        }
      }
      sleep(Duration.ofMillis(100));
    }
  }

  private void createDatabase() {
    try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + DATABASE);
    } catch (SQLException e) {
      throw new IllegalStateException("could not create database " + DATABASE + " on " + this + ": "
          + e.getMessage() + "\n" + cluster.logTail(), e);
    }
  }

  private Connection connect(String database) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", USER);
    props.setProperty("password", PASSWORD);
    // Seconds: a server that accepts the TCP connection but never answers must not hang the wait loop.
    props.setProperty("connectTimeout", "5");
    props.setProperty("socketTimeout", "30");
    return DriverManager.getConnection(jdbcUrl(database), props);
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting PostgreSQL", e);
    }
  }

  /** One cluster directory and the tools that act on it, run as the postgres user when this JVM is root. */
  private static final class Cluster {
    final Path bin;
    final Path dir;
    final Path data;
    final Path log;
    final boolean asServerUser;

    private Cluster(Path bin, Path dir, boolean asServerUser) {
      this.bin = bin;
      this.dir = dir;
      this.data = dir.resolve("data");
      this.log = dir.resolve("postgres.log");
      this.asServerUser = asServerUser;
    }

    /** A fresh 0700 directory under /tmp, owned by the postgres user when running as root. */
    static Cluster create(Path bin, boolean root) {
      Path dir;
      try {
        // /tmp, not java.io.tmpdir: the postgres user must be able to reach it, and the socket path must stay short.
        dir = Files.createTempDirectory(Path.of("/tmp"), "snakepit-pg-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (IOException e) {
        throw new UncheckedIOException("could not create a cluster directory under /tmp", e);
      }
      Cluster cluster = new Cluster(bin, dir, root);
      if (root) {
        try {
          UserPrincipal owner = dir.getFileSystem().getUserPrincipalLookupService()
              .lookupPrincipalByName(SERVER_OS_USER);
          Files.setOwner(dir, owner);
        } catch (UserPrincipalNotFoundException e) {
          cluster.delete();
          throw new IllegalStateException("this JVM runs as root, which PostgreSQL refuses, and there is no '"
              + SERVER_OS_USER + "' user to run it as: apt-get install postgresql creates it", e);
        } catch (IOException e) {
          cluster.delete();
          throw new UncheckedIOException("could not give " + dir + " to user " + SERVER_OS_USER, e);
        }
      }
      return cluster;
    }

    void initdb() {
      ToolRun r = run("initdb", "-D", data.toString(), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8",
          // C, not the caller's locale: a locale that does not fit UTF8, or is not installed, makes initdb fail.
          "--locale=C");
      if (r.exit() != 0) {
        throw new IllegalStateException(r.failure());
      }
      try {
        // In the config file, not on pg_ctl's -o: pg_ctl passes -o through a shell unquoted.
        Files.writeString(data.resolve("postgresql.conf"),
            "\n# snakepit test fixture: reachable only from this machine, socket kept out of /var/run.\n"
                + "listen_addresses = '127.0.0.1'\n"
                + "unix_socket_directories = '" + dir + "'\n",
            StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      } catch (IOException e) {
        throw new UncheckedIOException("could not configure " + data.resolve("postgresql.conf"), e);
      }
    }

    /** Starts the server on a free port on 127.0.0.1 and returns the port. */
    int startOnFreePort() {
      for (int attempt = 1; ; attempt++) {
        int port = freePort();
        try {
          Files.deleteIfExists(log);
        } catch (IOException e) {
          throw new UncheckedIOException("could not remove the previous attempt's " + log, e);
        }
        ToolRun r = run("pg_ctl", "start", "-D", data.toString(), "-l", log.toString(), "-w",
            "-t", Long.toString(READY_WITHIN.toSeconds()), "-o", "-p " + port);
        if (r.exit() == 0) {
          return port;
        }
        String logTail = logTail();
        if (attempt < START_ATTEMPTS && logTail.contains("could not bind")) {
          continue;
        }
        throw new IllegalStateException(r.failure() + "\n" + logTail);
      }
    }

    private static int freePort() {
      try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
        return probe.getLocalPort();
      } catch (IOException e) {
        throw new UncheckedIOException("could not find a free TCP port on 127.0.0.1", e);
      }
    }

    /** The running postmaster, from the first line of postmaster.pid. */
    ProcessHandle postmaster() {
      Path pidFile = data.resolve("postmaster.pid");
      try {
        long pid = Long.parseLong(Files.readAllLines(pidFile).get(0).trim());
        return ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(
            "pg_ctl reported PostgreSQL started, but the postmaster pid " + pid + " from " + pidFile
                + " is not alive\n" + logTail()));
      } catch (IOException | IndexOutOfBoundsException | NumberFormatException e) {
        throw new IllegalStateException("could not read the postmaster pid from " + pidFile + ": " + e + "\n"
            + logTail(), e);
      }
    }

    /**
     * Stops the server if it runs (immediate mode: nothing in it is kept) and deletes the directory. Reports
     * failures on stderr rather than throwing: it runs in a shutdown hook and after a failed start.
     */
    void stopAndDelete() {
      Path pidFile = data.resolve("postmaster.pid");
      if (Files.exists(pidFile)) {
        Optional<ProcessHandle> postmaster = Optional.empty();
        try {
          postmaster = ProcessHandle.of(Long.parseLong(Files.readAllLines(pidFile).get(0).trim()));
        } catch (IOException | IndexOutOfBoundsException | NumberFormatException e) {
          // pg_ctl stop below reads the same file and says what is wrong with it.
        }
        ToolRun r = run("pg_ctl", "stop", "-D", data.toString(), "-m", "immediate", "-w",
            "-t", Long.toString(READY_WITHIN.toSeconds()));
        if (r.exit() != 0) {
          System.err.println("PostgresServer: " + r.failure());
          // Our own postmaster only: the handle was taken from our cluster's pid file, and a handle never matches
          // a later process that reuses the pid. Its children exit when they see it gone.
          postmaster.filter(ProcessHandle::isAlive).ifPresent(p -> {
            System.err.println("PostgresServer: killing postmaster " + p.pid());
            p.destroyForcibly();
          });
        }
      }
      delete();
    }

    void delete() {
      if (!Files.exists(dir)) {
        return;
      }
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException | UncheckedIOException e) {
        System.err.println("PostgresServer: could not delete " + dir + ": " + e);
      }
    }

    /** The last lines of the server log, for error messages. */
    String logTail() {
      try {
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        return "last lines of " + log + ":\n"
            + String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
      } catch (IOException e) {
        return "(no server log at " + log + ": " + e.getMessage() + ")";
      }
    }

    /** Runs a tool from bin to completion, as the postgres user when this JVM is root, capturing its output. */
    ToolRun run(String tool, String... args) {
      List<String> command = new ArrayList<>();
      if (asServerUser) {
        command.addAll(List.of(RUNUSER, "-u", SERVER_OS_USER, "--"));
      }
      command.add(bin.resolve(tool).toString());
      command.addAll(List.of(args));
      Path output = null;
      try {
        output = Files.createTempFile("snakepit-pg-" + tool + "-", ".out");
        ProcessBuilder pb = new ProcessBuilder(command)
            // The postgres user cannot enter the caller's directory (often under /root); tools complain then.
            .directory(dir.toFile())
            .redirectErrorStream(true)
            // A file, not a pipe: the postmaster that pg_ctl starts must not hold our end open.
            .redirectOutput(output.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = pb.environment();
        // The caller's PGDATA, PGPORT, PGOPTIONS and the like would point the tools elsewhere.
        env.keySet().removeIf(k -> k.startsWith("PG"));
        Process p = pb.start();
        if (!p.waitFor(TOOL_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
          return new ToolRun(command, -1, "(did not finish within " + TOOL_TIMEOUT.toSeconds() + " s)\n"
              + Files.readString(output, StandardCharsets.UTF_8));
        }
        return new ToolRun(command, p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
      } catch (IOException e) {
        return new ToolRun(command, -1, "could not run it: " + e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new ToolRun(command, -1, "interrupted while waiting for it");
      } finally {
        if (output != null) {
          try {
            Files.deleteIfExists(output);
          } catch (IOException e) {
            // A leftover temp file of a few lines is not worth failing a test for.
          }
        }
      }
    }
  }

  /** What one run of a tool did. */
  private record ToolRun(List<String> command, int exit, String output) {
    String failure() {
      return String.join(" ", command) + " failed with exit code " + exit + ". Its output:\n" + output.strip();
    }
  }
}
