package io.snakepit.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Configuration for nodes started by tests: the test Python, and an instance name unique to this test run. */
public final class TestNodes {
  /** Every worker a test starts carries this instance name; the leak check looks for it in /proc. */
  public static final String INSTANCE = System.getProperty("snakepit.test.instance",
      "it-" + UUID.randomUUID().toString().substring(0, 8));

  /** The data directory (instance locks, embedded journals) of this test run. */
  public static final Path DATA_DIR = Path.of(System.getProperty("java.io.tmpdir"), "snakepit-" + INSTANCE);

  private TestNodes() {}

  /** The Python with grpcio and protobuf that the build prepared. */
  public static String python() {
    String python = System.getProperty("snakepit.test.python");
    if (python == null || !Files.isExecutable(Path.of(python))) {
      throw new IllegalStateException("snakepit.test.python is not set to an executable Python (" + python
          + "); run the tests through Maven, which prepares .venv");
    }
    return python;
  }

  /** The settings that make a node use the shared PostgreSQL server's database for its registry. */
  public static String postgres() {
    Requires.postgres();
    PostgresServer pg = PostgresServer.shared();
    return "snakepit.registry.db { url = \"" + pg.jdbcUrl() + "\", user = \"" + pg.user() + "\", password = \""
        + pg.password() + "\", driver = \"org.postgresql.Driver\", profile = \"slick.jdbc.PostgresProfile$\" }\n";
  }

  /**
   * The example adapter, which the test defaults make every pool's (reference.conf sets none), and the test
   * defaults' pool "default" of it: tests that want no such pool set {@code snakepit.pools.default = null}.
   */
  public static final String EXAMPLE_ADAPTER = "snakepit_worker.examples.basic:BasicAdapter";

  /**
   * A node configuration: {@code overrides} (HOCON) over the test defaults (among them a pool "default" of the example
   * adapter) over reference.conf.
   */
  public static Config config(String overrides) {
    // load() resolves reference.conf's substitutions (the journal's URL uses data-dir and instance) after these.
    return ConfigFactory.load(ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.parseString(
            "snakepit.instance = \"" + INSTANCE + "\"\n"
                + "snakepit.data-dir = \"" + DATA_DIR + "\"\n"
                + "snakepit.pool-defaults.python = \"" + python() + "\"\n"
                + "snakepit.pool-defaults.adapter = \"" + EXAMPLE_ADAPTER + "\"\n"
                + "snakepit.pools.default {}\n"
                + "snakepit.pool-defaults.start-timeout = 20s\n"
                + "akka.loglevel = INFO\n"
                + "akka.loggers = [\"akka.event.slf4j.Slf4jLogger\"]\n"
                + "akka.logging-filter = \"akka.event.slf4j.Slf4jLoggingFilter\"\n")));
  }
}
