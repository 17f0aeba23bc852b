package io.snakepit.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** Configuration for nodes started by tests: the test Python, and an instance name unique to this test run. */
public final class TestNodes {
  /** Every worker a test starts carries this instance name; the leak check looks for it in /proc. */
  public static final String INSTANCE = "it-" + UUID.randomUUID().toString().substring(0, 8);

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

  /** A node configuration: {@code overrides} (HOCON) over the test defaults over reference.conf. */
  public static Config config(String overrides) {
    return ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.parseString(
            "snakepit.instance = \"" + INSTANCE + "\"\n"
                + "snakepit.pool-defaults.python = \"" + python() + "\"\n"
                + "snakepit.pool-defaults.start-timeout = 20s\n"
                + "akka.loglevel = INFO\n"
                + "akka.loggers = [\"akka.event.slf4j.Slf4jLogger\"]\n"
                + "akka.logging-filter = \"akka.event.slf4j.Slf4jLoggingFilter\"\n"))
        .withFallback(ConfigFactory.load());
  }
}
