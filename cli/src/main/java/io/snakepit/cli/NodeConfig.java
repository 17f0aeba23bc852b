package io.snakepit.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.Map;

/** The configuration a command runs with: its flags over application.conf over every reference.conf. */
final class NodeConfig {
  private NodeConfig() {}

  /**
   * Builds the configuration. Flags go in before resolution, so that settings derived from them in reference.conf
   * (the embedded journal's path derives from the data directory and the instance) follow them.
   */
  static Config load(Path dataDir, String instance, Map<String, Object> more) {
    Config flags = ConfigFactory.empty()
        .withValue("snakepit.data-dir", ConfigValueFactory.fromAnyRef(dataDir.toAbsolutePath().normalize().toString()));
    if (instance != null) {
      flags = flags.withValue("snakepit.instance", ConfigValueFactory.fromAnyRef(instance));
    }
    for (Map.Entry<String, Object> e : more.entrySet()) {
      flags = flags.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
    }
    return ConfigFactory.load(flags.withFallback(ConfigFactory.defaultApplication()));
  }
}
