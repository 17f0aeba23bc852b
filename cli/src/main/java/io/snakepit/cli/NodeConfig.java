package io.snakepit.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import io.snakepit.settings.SettingPaths;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The configuration a command runs with, first wins: its flags; system properties ({@code -Dsnakepit...}); the
 * {@code --config} file; application.conf (or {@code -Dconfig.file}); the command's own defaults; every
 * reference.conf. Relative paths in a file resolve against that file's directory ({@link SettingPaths}).
 */
final class NodeConfig {
  /** The adapter {@code serve} runs unless told otherwise: the package's example. */
  static final String EXAMPLE_ADAPTER = "snakepit_worker.examples.basic:BasicAdapter";

  /**
   * The Python {@code serve} uses when nothing else names one: the snakepit script sets it to its .venv's. Read only as
   * a default, so that --python and a --config file's python win over it.
   */
  static final String DEFAULT_PYTHON_VARIABLE = "SNAKEPIT_DEFAULT_PYTHON";

  private static final String DATA_DIR = "snakepit.data-dir";

  private NodeConfig() {}

  /** A {@code --config} file that is missing or cannot be parsed; the message names the file, the line and the fix. */
  static final class BadFile extends RuntimeException {
    BadFile(String message) {
      super(message);
    }
  }

  /**
   * Builds the configuration. Flags go in before resolution, so that settings derived from them in reference.conf
   * (the embedded journal's path derives from the data directory and the instance) follow them.
   *
   * @param file the {@code --config} file, or null
   * @param dataDir {@code --data-dir} (relative to the working directory, as a command-line path is), or null: then
   *     the data-dir a file or system property sets, else {@code fallbackDataDir}
   * @param fallbackDataDir the command's own default data directory, relative to the working directory
   * @param instance {@code --instance}, or null
   * @param flags more settings from flags, by path
   * @param defaults the command's own defaults, by path, under every file
   * @throws BadFile if {@code file} is missing or malformed
   * @throws IllegalArgumentException if a relative data-dir cannot be resolved
   */
  static Config load(Path file, Path dataDir, Path fallbackDataDir, String instance, Map<String, Object> flags,
      Map<String, Object> defaults) {
    Config fromFile = file == null ? ConfigFactory.empty() : parse(file);
    Config top = ConfigFactory.empty();
    if (instance != null) {
      top = top.withValue("snakepit.instance", ConfigValueFactory.fromAnyRef(instance));
    }
    for (Map.Entry<String, Object> e : flags.entrySet()) {
      top = top.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
    }
    Config bottom = ConfigFactory.empty();
    for (Map.Entry<String, Object> e : defaults.entrySet()) {
      bottom = bottom.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
    }
    Config application = ConfigFactory.defaultApplication();
    Config others = ConfigFactory.systemProperties().withFallback(fromFile).withFallback(application);
    Config stack = others.withFallback(bottom).withFallback(ConfigFactory.defaultReferenceUnresolved());
    Path data;
    if (dataDir != null) {
      data = dataDir.toAbsolutePath().normalize();
    } else if (sets(others, DATA_DIR)) {
      // Resolved first, then set as an absolute path: the journal's URL derives from it at resolution.
      Config snakepit = top.withFallback(stack).resolve().getConfig("snakepit");
      data = SettingPaths.of(snakepit).path(snakepit, "data-dir");
    } else {
      data = fallbackDataDir.toAbsolutePath().normalize();
    }
    top = top.withValue(DATA_DIR, ConfigValueFactory.fromAnyRef(data.toString()));
    return top.withFallback(stack).resolve();
  }

  /** Whether {@code c} sets {@code path} (to something, or to a substitution not yet resolved). */
  private static boolean sets(Config c, String path) {
    try {
      return c.hasPathOrNull(path);
    } catch (ConfigException.NotResolved e) {
      return true;
    }
  }

  private static Config parse(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new BadFile("--config " + file + ": " + (Files.exists(file) ? "not a regular file" : "no such file")
          + " (in " + Path.of("").toAbsolutePath() + "). Give the path of a HOCON file, e.g. --config"
          + " /etc/snakepit/node.conf");
    }
    try {
      return ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException e) {
      throw new BadFile("--config " + file + ": cannot read it: " + e.getMessage() + ". Fix the file (HOCON, as in"
          + " reference.conf), or give another with --config FILE");
    }
  }
}
