package io.snakepit.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingPathsTest {
  @TempDir
  Path dir;

  private Config file(String text) throws Exception {
    Path conf = dir.resolve("app.conf");
    Files.writeString(conf, text);
    return ConfigFactory.parseFile(conf.toFile()).resolve().getConfig("snakepit");
  }

  @Test
  void anAbsolutePathIsKeptAsItIs() {
    Config c = ConfigFactory.parseString("snakepit.run-dir = \"/run/x\"").getConfig("snakepit");
    SettingPaths paths = SettingPaths.of(c);
    assertEquals(Path.of("/run/x"), paths.path(c, "run-dir"));
    assertEquals(Optional.empty(), paths.report());
  }

  @Test
  void aRelativePathFromAFileResolvesAgainstTheFilesDirectory() throws Exception {
    Config c = file("snakepit.cache-dir = \"cache/../c\"\n");
    SettingPaths paths = SettingPaths.of(c);
    assertEquals(dir.resolve("c"), paths.path(c, "cache-dir"));
    assertEquals(Optional.of("relative paths resolved against the directory of the configuration file that set each:"
        + " snakepit.cache-dir = cache/../c -> " + dir.resolve("c")), paths.report());
  }

  @Test
  void baseDirWinsOverTheFilesDirectoryAndARelativeOneIsRelativeToItsFile() throws Exception {
    Config c = file("snakepit { base-dir = \"base\", cache-dir = \"c\" }\n");
    SettingPaths paths = SettingPaths.of(c);
    assertEquals(dir.resolve("base/c"), paths.path(c, "cache-dir"));
    assertTrue(paths.report().orElseThrow().startsWith("relative paths resolved against snakepit.base-dir "
        + dir.resolve("base") + ":"), paths.report().toString());

    Config code = ConfigFactory.parseString("snakepit { base-dir = \"/srv/app\", cache-dir = \"c\" }")
        .getConfig("snakepit");
    assertEquals(Path.of("/srv/app/c"), SettingPaths.of(code).path(code, "cache-dir"));
  }

  @Test
  void aRelativePathFromNoFileIsRefusedNamingTheSettingAndTheFix() {
    Config c = ConfigFactory.parseString("snakepit.cache-dir = \"cache\"").getConfig("snakepit");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SettingPaths.of(c).path(c, "cache-dir"));
    assertTrue(e.getMessage().startsWith("snakepit.cache-dir is 'cache', a relative path set in String: 1")
        && e.getMessage().contains("does not resolve it against the working directory")
        && e.getMessage().contains("Set an absolute path, or set snakepit.base-dir"), e.getMessage());
  }

  @Test
  void aRelativeBaseDirFromNoFileIsRefused() {
    Config c = ConfigFactory.parseString("snakepit.base-dir = \"here\"").getConfig("snakepit");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SettingPaths.of(c));
    assertTrue(e.getMessage().startsWith("snakepit.base-dir is 'here', a relative path"), e.getMessage());
  }

  @Test
  void theDefaultDataDirIsAbsoluteAndUnderTheStateHome() {
    Config c = ConfigFactory.load().getConfig("snakepit");
    Path dataDir = SettingPaths.of(c).path(c, "data-dir");
    assertTrue(dataDir.isAbsolute(), dataDir.toString());
    String xdg = System.getenv("XDG_STATE_HOME");
    assertEquals(xdg != null ? Path.of(xdg, "snakepit")
        : Path.of(System.getProperty("user.home"), ".local", "state", "snakepit"), dataDir);
  }
}
