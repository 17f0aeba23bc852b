package io.snakepit.actors.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.Pool;
import io.snakepit.Snakepit;
import io.snakepit.testing.Awaits;
import io.snakepit.testing.Commands;
import io.snakepit.testing.Scrapes;
import io.snakepit.testing.TestNodes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/deploy/prometheus-rules.yml against a real node and Prometheus' own tool: every metric an alert reads is one a
 * node serves, with every label the alert selects, groups by or prints; {@code promtool check rules} accepts the
 * file; and {@code promtool test rules} fires each alert on the series that should fire it and no other.
 */
class PrometheusRulesIT {
  private static final Path DEPLOY = Path.of("").toAbsolutePath().getParent().resolve("docs/deploy");
  private static final Path RULES = DEPLOY.resolve("prometheus-rules.yml");
  private static final Path PROMTOOL = Path.of("/usr/bin/promtool");
  /** Labels Prometheus adds to every series it scrapes: no node serves them. */
  private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
  private static final Pattern METRIC = Pattern.compile("\\bsnakepit_[a-z_]+\\b");
  private static final Pattern MATCHERS = Pattern.compile("(snakepit_[a-z_]+)\\{([^}]*)}");
  private static final Pattern MATCHER_LABEL = Pattern.compile("([a-z_]+)\\s*(=~|!~|!=|=)");
  private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");
  private static final Pattern PRINTED_LABEL = Pattern.compile("\\$labels\\.([a-z_]+)");

  /** One alert of the rules file: its name, expression and the text of its annotations. */
  private record Alert(String name, String expr, String annotations) {}

  private static List<Alert> alerts() throws IOException {
    List<Alert> alerts = new ArrayList<>();
    String name = null;
    String expr = null;
    StringBuilder annotations = new StringBuilder();
    for (String line : Files.readAllLines(RULES)) {
      String t = line.strip();
      if (t.startsWith("- alert:")) {
        if (name != null) {
          alerts.add(new Alert(name, expr, annotations.toString()));
        }
        name = t.substring("- alert:".length()).strip();
        expr = null;
        annotations.setLength(0);
      } else if (t.startsWith("expr:")) {
        expr = t.substring("expr:".length()).strip();
      } else if (t.startsWith("summary:") || t.startsWith("description:")) {
        annotations.append(t).append('\n');
      }
    }
    if (name != null) {
      alerts.add(new Alert(name, expr, annotations.toString()));
    }
    return alerts;
  }

  /** The labels of each {@code snakepit_*} series in a Prometheus text scrape, by metric family name. */
  private static Map<String, Set<String>> served(String scrape) {
    Map<String, Set<String>> labels = new LinkedHashMap<>();
    Matcher m = Pattern.compile("^(snakepit_[a-z_]+?)(_bucket|_count|_sum)?(\\{([^}]*)})? ", Pattern.MULTILINE)
        .matcher(scrape);
    while (m.find()) {
      Set<String> names = new LinkedHashSet<>();
      if (m.group(4) != null) {
        Matcher l = Pattern.compile("([a-z_]+)=\"").matcher(m.group(4));
        while (l.find()) {
          names.add(l.group(1));
        }
      }
      // A histogram's series are named NAME_bucket/_count/_sum; an alert may use either form.
      labels.computeIfAbsent(m.group(1), k -> new LinkedHashSet<>()).addAll(names);
      if (m.group(2) != null) {
        labels.computeIfAbsent(m.group(1) + m.group(2), k -> new LinkedHashSet<>()).addAll(names);
      }
    }
    return labels;
  }

  @Test
  void everyMetricAndLabelTheAlertsUseIsOneARealNodeServes() throws Exception {
    List<Alert> alerts = alerts();
    assertTrue(alerts.size() >= 7, "the rules file has its alerts: " + alerts);
    ActorTestKit kit = ActorTestKit.create("rules", TestNodes.config("""
        snakepit.pools.default = null
        snakepit.pools.r { workers = 1, recycle.max-rss = 1GiB }
        """));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    String scrape;
    try {
      Snakepit.bindMetrics(kit.system(), registry);
      Pool pool = Snakepit.get(kit.system()).pool("r");
      Awaits.await(pool.ready());
      Awaits.await(pool.execute("ping", "{}"));
      scrape = registry.scrape();
    } finally {
      kit.shutdownTestKit();
    }
    Map<String, Set<String>> served = served(scrape);
    assertEquals(1.0 * (1 << 30), Scrapes.value(scrape, "snakepit_worker_memory_limit_bytes",
        Map.of("pool", "r")), "the pool's memory limit is its recycle.max-rss");
    for (Alert alert : alerts) {
      assertTrue(alert.expr() != null && !alert.expr().isEmpty(), alert.name() + " has an expression");
      Set<String> metrics = new LinkedHashSet<>();
      Matcher m = METRIC.matcher(alert.expr());
      while (m.find()) {
        metrics.add(m.group());
      }
      assertFalse(metrics.isEmpty(), alert.name() + " reads no snakepit metric: " + alert.expr());
      for (String metric : metrics) {
        assertTrue(served.containsKey(metric), alert.name() + " reads " + metric + ", which a node does not serve;"
            + " it serves " + served.keySet());
      }
      // Labels the expression selects on must be on the metric they select.
      Matcher selectors = MATCHERS.matcher(alert.expr());
      while (selectors.find()) {
        Matcher label = MATCHER_LABEL.matcher(selectors.group(2));
        while (label.find()) {
          assertTrue(served.get(selectors.group(1)).contains(label.group(1)), alert.name() + " selects "
              + selectors.group(1) + " by label " + label.group(1) + ", which it does not have: "
              + served.get(selectors.group(1)));
        }
      }
      // Labels it groups by or prints must be on every metric it reads (else the result has none).
      Set<String> used = new LinkedHashSet<>();
      Matcher grouping = GROUPING.matcher(alert.expr());
      while (grouping.find()) {
        for (String l : grouping.group(1).split(",")) {
          used.add(l.strip());
        }
      }
      Matcher printed = PRINTED_LABEL.matcher(alert.annotations());
      while (printed.find()) {
        used.add(printed.group(1));
      }
      used.removeAll(TARGET_LABELS);
      for (String label : used) {
        for (String metric : metrics) {
          assertTrue(served.get(metric).contains(label), alert.name() + " uses label " + label + ", which "
              + metric + " does not have: " + served.get(metric));
        }
      }
    }
  }

  @Test
  void promtoolAcceptsTheRulesAndEachAlertFiresOnItsSeries(@TempDir Path dir) throws Exception {
    assumeTrue(Files.isExecutable(PROMTOOL), PROMTOOL + " is not installed (Debian: apt-get install prometheus;"
        + " .ci/run installs it): the rules are checked against the node's metrics only");
    Commands.Result check = Commands.run(new ProcessBuilder(PROMTOOL.toString(), "check", "rules", RULES.toString())
        .redirectErrorStream(true), Duration.ofSeconds(60), "promtool check rules");
    assertEquals(0, check.exit(), "promtool check rules:\n" + check.out());
    assertTrue(check.out().contains("SUCCESS: " + alerts().size() + " rules found"), check.out());

    Files.copy(RULES, dir.resolve("prometheus-rules.yml"));
    Path tests = dir.resolve("prometheus-rules.test.yml");
    try (var in = PrometheusRulesIT.class.getResourceAsStream("/prometheus-rules.test.yml")) {
      Files.copy(in, tests);
    }
    Commands.Result test = Commands.run(new ProcessBuilder(PROMTOOL.toString(), "test", "rules", tests.toString())
        .redirectErrorStream(true), Duration.ofSeconds(60), "promtool test rules");
    assertEquals(0, test.exit(), "promtool test rules:\n" + test.out());
    for (Alert alert : alerts()) {
      assertTrue(Files.readString(tests).contains("alertname: " + alert.name()),
          "prometheus-rules.test.yml tests alert " + alert.name());
    }
  }
}
