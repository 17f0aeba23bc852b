package io.snakepit.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.actors.metrics.NodeMetrics;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Checks on a Prometheus text scrape of a node's metrics. */
public final class Scrapes {
  private Scrapes() {}

  /** Each metric of {@link NodeMetrics#PROMETHEUS_NAMES} has a sample line in {@code text} with each of its labels. */
  public static void assertEveryContractName(String text) {
    for (Map.Entry<String, List<String>> metric : NodeMetrics.PROMETHEUS_NAMES.entrySet()) {
      String name = metric.getKey();
      Matcher found = Pattern.compile("^" + Pattern.quote(name) + "(_bucket|_count|_sum)?(\\{([^}]*)})? ",
          Pattern.MULTILINE).matcher(text);
      assertTrue(found.find(), "no sample of " + name + " in:\n" + text);
      String labels = found.group(3) == null ? "" : found.group(3);
      for (String label : metric.getValue()) {
        assertTrue(labels.contains(label + "=\""), name + " has no label " + label + ": " + found.group());
      }
    }
  }

  /**
   * The value of the sample of {@code name} whose labels include every {@code label="value"} of {@code labels}, or
   * NaN when there is none.
   */
  public static double value(String text, String name, Map<String, String> labels) {
    Matcher m = Pattern.compile("^" + Pattern.quote(name) + "\\{([^}]*)} (\\S+)$", Pattern.MULTILINE).matcher(text);
    while (m.find()) {
      String have = m.group(1);
      if (labels.entrySet().stream().allMatch(l -> have.contains(l.getKey() + "=\"" + l.getValue() + "\""))) {
        return Double.parseDouble(m.group(2));
      }
    }
    return Double.NaN;
  }
}
