package io.snakepit.settings;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.net.URL;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where the relative paths of snakepit's settings point (the data, run and cache directories, a pool's python and
 * python-path, its output-file.dir). A relative path resolves against {@code snakepit.base-dir} when that is set, else
 * against the directory of the configuration file that set it ({@code -Dconfig.file}, {@code serve --config}, an
 * {@code include}). One set anywhere else (a classpath application.conf, a system property, code) is refused with an
 * error naming the setting, its value and the fix: nothing resolves against the JVM's working directory.
 *
 * <p>Each relative path resolved is remembered for {@link #report()}, the node's one line about them at start.
 */
public final class SettingPaths {
  private final Path baseDir;
  private final Map<String, String> resolved = new LinkedHashMap<>();

  private SettingPaths(Path baseDir) {
    this.baseDir = baseDir;
  }

  /**
   * The paths of the {@code snakepit} block {@code snakepit}, with its {@code base-dir}.
   *
   * @throws IllegalArgumentException if base-dir is relative and set outside any file
   */
  public static SettingPaths of(Config snakepit) {
    String base = snakepit.hasPath("base-dir") ? snakepit.getString("base-dir").trim() : "";
    if (base.isEmpty()) {
      return new SettingPaths(null);
    }
    Path dir = Path.of(base);
    if (!dir.isAbsolute()) {
      ConfigOrigin origin = snakepit.getValue("base-dir").origin();
      dir = fileDirectory(origin).orElseThrow(() -> new IllegalArgumentException("snakepit.base-dir is '" + base
          + "', a relative path set in " + origin.description() + ", not in a file it could be relative to: set it"
          + " to an absolute directory, e.g. snakepit.base-dir = \"/srv/my-app\"")).resolve(dir);
    }
    return new SettingPaths(dir.normalize());
  }

  /**
   * The path setting {@code key} of the {@code snakepit} block, resolved.
   *
   * @throws IllegalArgumentException if it is relative and nothing says what it is relative to
   */
  public Path path(Config snakepit, String key) {
    return resolve("snakepit." + key, snakepit.getValue(key));
  }

  /**
   * The string {@code value} of {@code setting} (its full name, for messages) as a path: as it is when absolute, else
   * against base-dir, else against the directory of the file that set it.
   *
   * @throws IllegalArgumentException if it is relative and neither is there, naming the setting, value and fix
   */
  public Path resolve(String setting, ConfigValue value) {
    if (value.valueType() != ConfigValueType.STRING) {
      throw new IllegalArgumentException(setting + " is " + value.render() + " (" + value.origin().description()
          + "): set it to a path, as a string");
    }
    String raw = (String) value.unwrapped();
    Path path = Path.of(raw);
    if (path.isAbsolute()) {
      return path;
    }
    Path base = baseDir != null ? baseDir : fileDirectory(value.origin()).orElseThrow(() ->
        new IllegalArgumentException(setting + " is '" + raw + "', a relative path set in "
            + value.origin().description() + ", which is not a file it could be relative to; Snakepit does not"
            + " resolve it against the working directory. Set an absolute path, or set snakepit.base-dir to the"
            + " directory it is relative to, e.g. snakepit.base-dir = \"/srv/my-app\""));
    Path absolute = base.resolve(path).normalize();
    synchronized (resolved) {
      resolved.put(setting, raw + " -> " + absolute);
    }
    return absolute;
  }

  /**
   * One line saying where the relative paths resolved so far point, or empty if there were none.
   */
  public Optional<String> report() {
    synchronized (resolved) {
      if (resolved.isEmpty()) {
        return Optional.empty();
      }
      StringBuilder line = new StringBuilder("relative paths resolved against ").append(baseDir != null
          ? "snakepit.base-dir " + baseDir : "the directory of the configuration file that set each").append(':');
      resolved.forEach((setting, how) -> line.append(' ').append(setting).append(" = ").append(how).append(';'));
      line.setLength(line.length() - 1);
      return Optional.of(line.toString());
    }
  }

  /** The directory of the file a value came from, if it came from a file. */
  private static Optional<Path> fileDirectory(ConfigOrigin origin) {
    Path file = null;
    if (origin.filename() != null) {
      file = Path.of(origin.filename());
    } else {
      URL url = origin.url();
      if (url != null && url.getProtocol().equals("file")) {
        file = Path.of(url.getPath());
      }
    }
    if (file == null) {
      return Optional.empty();
    }
    return Optional.ofNullable(file.toAbsolutePath().normalize().getParent());
  }
}
