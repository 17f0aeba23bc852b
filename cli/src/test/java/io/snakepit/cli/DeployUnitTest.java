package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * docs/deploy/snakepit.service and snakepit.conf, read as systemd and the node would read them. No systemd runs
 * where this project is built, so the unit is only checked as text: the properties the deployment relies on, and a
 * command line that {@code snakepit serve} accepts.
 */
class DeployUnitTest {
  private static final Path DEPLOY = Path.of("").toAbsolutePath().getParent().resolve("docs/deploy");

  /** The unit's keys by section; a key given twice keeps both values, as systemd's list settings do. */
  private static Map<String, Map<String, List<String>>> unit() throws IOException {
    Map<String, Map<String, List<String>>> sections = new LinkedHashMap<>();
    Map<String, List<String>> section = null;
    String pending = "";
    for (String raw : Files.readAllLines(DEPLOY.resolve("snakepit.service"))) {
      String line = pending + raw.strip();
      pending = "";
      if (line.endsWith("\\")) { // continued on the next line
        pending = line.substring(0, line.length() - 1) + " ";
        continue;
      }
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      if (line.startsWith("[")) {
        section = sections.computeIfAbsent(line.substring(1, line.indexOf(']')), s -> new LinkedHashMap<>());
        continue;
      }
      int eq = line.indexOf('=');
      assertTrue(section != null && eq > 0, "not a key=value line in a section: " + raw);
      section.computeIfAbsent(line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1).strip());
    }
    return sections;
  }

  private static String service(String key) throws IOException {
    List<String> values = unit().getOrDefault("Service", Map.of()).get(key);
    assertTrue(values != null && values.size() == 1, "[Service] should set " + key + " once: " + values);
    return values.get(0);
  }

  private static List<String> execStart() throws IOException {
    return List.of(service("ExecStart").split("\\s+"));
  }

  /** What follows {@code serve} on the ExecStart line. */
  private static String[] serveArgs() throws IOException {
    List<String> cmd = execStart();
    int serve = cmd.indexOf("serve");
    assertTrue(serve > 0, "ExecStart does not run 'serve': " + cmd);
    return cmd.subList(serve + 1, cmd.size()).toArray(String[]::new);
  }

  /** A systemd time span such as "90", "90s", "1min 30s" or "2m". */
  static Duration timeSpan(String text) {
    Matcher m = Pattern.compile("\\s*(\\d+)\\s*(msec|ms|seconds|second|sec|s|minutes|minute|min|m|hours|hour|hr|h)?")
        .matcher(text);
    Duration total = Duration.ZERO;
    int end = 0;
    while (m.lookingAt()) {
      long n = Long.parseLong(m.group(1));
      String unit = m.group(2) == null ? "s" : m.group(2);
      total = total.plus(switch (unit) {
        case "msec", "ms" -> Duration.ofMillis(n);
        case "minutes", "minute", "min", "m" -> Duration.ofMinutes(n);
        case "hours", "hour", "hr", "h" -> Duration.ofHours(n);
        default -> Duration.ofSeconds(n);
      });
      end = m.end();
      m.region(end, text.length());
    }
    assertTrue(end > 0 && text.substring(end).isBlank(), "not a time span: '" + text + "'");
    return total;
  }

  private static Duration phaseTimeout(Config c, String phase) {
    String key = "akka.coordinated-shutdown.phases." + phase + ".timeout";
    return c.getDuration(c.hasPath(key) ? key : "akka.coordinated-shutdown.default-phase-timeout");
  }

  @Test
  void timeSpansReadAsSystemdReadsThem() {
    assertEquals(Duration.ofSeconds(90), timeSpan("90"));
    assertEquals(Duration.ofSeconds(90), timeSpan("1min 30s"));
    assertEquals(Duration.ofMinutes(2), timeSpan("2m"));
    assertEquals(Duration.ofMillis(1500), timeSpan("1s 500ms"));
  }

  @Test
  void theNodeOwnsItsCgroupAndSystemdKillsWhateverIsLeft() throws Exception {
    assertEquals("yes", service("Delegate"));
    // mixed: SIGTERM to the JVM alone (it stops its workers in order), SIGKILL to all that is left at the timeout.
    assertEquals("mixed", service("KillMode"));
    assertEquals("on-failure", service("Restart"));
  }

  @Test
  void execStartRunsServeWithOptionsServeAccepts() throws Exception {
    List<String> cmd = execStart();
    assertTrue(cmd.get(0).startsWith("/"), "systemd wants an absolute executable: " + cmd.get(0));
    assertEquals("serve", cmd.get(cmd.indexOf("-jar") + 2), "the jar's first argument should be serve: " + cmd);
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs(serveArgs()); // throws on an option serve does not have
    assertEquals(Path.of(service("WorkingDirectory")), serve.dataDir, "the data directory is the working directory");
    assertEquals("/var/lib/" + service("StateDirectory"), serve.dataDir.toString(),
        "the data directory is the one systemd makes for the user (StateDirectory=)");
  }

  @Test
  void theNodeRunsAsItsOwnUser() throws Exception {
    assertNotEquals("root", service("User"));
    assertEquals(service("User"), service("Group"));
  }

  @Test
  void systemdWaitsLongerThanTheNodesGracefulStop() throws Exception {
    Config c = ConfigFactory.load();
    Duration graceful = phaseTimeout(c, "service-unbind").plus(phaseTimeout(c, "service-stop"))
        .plus(c.getDuration("snakepit.pool-defaults.stop-grace")).plusMillis(1500);
    Duration timeout = timeSpan(service("TimeoutStopSec"));
    assertTrue(timeout.compareTo(graceful) > 0, "TimeoutStopSec=" + service("TimeoutStopSec")
        + " is not longer than the node's graceful stop (" + graceful.toSeconds() + " s)");
    assertTrue(List.of(service("SuccessExitStatus").split("\\s+")).contains("143"),
        "a JVM stopped by SIGTERM exits with 143, which must count as success");
  }

  @Test
  void theExampleConfigurationIsTheOneExecStartReadsAndHoldsOnlyKnownKeys() throws Exception {
    assertTrue(execStart().contains("-Dconfig.file=/etc/snakepit/snakepit.conf"), execStart().toString());
    Config example = ConfigFactory.parseFile(DEPLOY.resolve("snakepit.conf").toFile());
    Config reference = ConfigFactory.defaultReference();
    for (Map.Entry<String, ConfigValue> e : example.entrySet()) {
      if (!e.getKey().startsWith("snakepit.pools.")) {
        assertTrue(reference.hasPathOrNull(e.getKey()), "snakepit.conf sets " + e.getKey()
            + ", which no reference.conf knows: misspelt or renamed?");
      }
    }
    Config resolved = example.withFallback(reference).resolve();
    assertEquals("/run/" + service("RuntimeDirectory"), resolved.getString("snakepit.run-dir"),
        "the sockets go where systemd makes RuntimeDirectory=");
    assertEquals("/var/cache/" + service("CacheDirectory"), resolved.getString("snakepit.cache-dir"),
        "the shim is unpacked where systemd makes CacheDirectory=");
  }
}
