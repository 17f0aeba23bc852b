package io.snakepit.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a run's measurements as {@code <name>.json}, {@code <name>.md} and one SVG chart per group. */
final class Report {
  private final String name;
  private final String command;
  private final Map<String, String> machine;
  private final List<Measurement> measurements;
  private final double seconds;

  Report(String name, String command, Map<String, String> machine, List<Measurement> measurements, double seconds) {
    this.name = name;
    this.command = command;
    this.machine = machine;
    this.measurements = measurements;
    this.seconds = seconds;
  }

  void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    ObjectMapper json = new ObjectMapper();
    Files.writeString(dir.resolve(name + ".json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(toJson(
        json)) + "\n");
    Map<String, String> charts = new LinkedHashMap<>();
    for (String group : groups()) {
      String file = name + "-" + group.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-") + ".svg";
      Files.writeString(dir.resolve(file), Svg.chart(group, of(group)));
      charts.put(group, file);
    }
    Files.writeString(dir.resolve(name + ".md"), markdown(charts));
  }

  private List<String> groups() {
    return measurements.stream().map(Measurement::group).distinct().toList();
  }

  private List<Measurement> of(String group) {
    return measurements.stream().filter(m -> m.group().equals(group)).toList();
  }

  private ObjectNode toJson(ObjectMapper json) {
    ObjectNode root = json.createObjectNode();
    root.put("name", name);
    root.put("command", command);
    root.put("seconds", Math.round(seconds));
    ObjectNode m = root.putObject("machine");
    machine.forEach(m::put);
    ArrayNode list = root.putArray("measurements");
    for (Measurement x : measurements) {
      ObjectNode o = list.addObject();
      o.put("id", x.id()).put("group", x.group()).put("title", x.title()).put("unit", x.unit());
      series(o.putObject("subject"), x.subject());
      if (x.baseline() != null) {
        series(o.putObject("baseline"), x.baseline());
      }
      if (x.ratio() != null) {
        o.put("ratio", round(x.ratio()));
      }
      o.putObject("goal").put("text", x.goal().text()).put("met", x.goalMet() == null ? null
          : x.goalMet().toString());
      o.put("note", x.note());
    }
    return root;
  }

  private static void series(ObjectNode o, Series s) {
    o.put("name", s.name()).put("median", round(s.median())).put("min", round(s.min())).put("max", round(s.max()));
    ArrayNode samples = o.putArray("samples");
    s.samples().forEach(v -> samples.add(round(v)));
  }

  private String markdown(Map<String, String> charts) {
    StringBuilder md = new StringBuilder();
    md.append("# Benchmark results: ").append(name).append("\n\n");
    md.append("Produced by `").append(command).append("` in ").append(Math.round(seconds)).append(" s. Each figure is")
        .append(" the median of its runs, with [min–max]; ratios compare medians measured side by side in this run.")
        .append(" What each figure means and how to reproduce it: [docs/PERFORMANCE.md](../../docs/PERFORMANCE.md).")
        .append("\n\n## Machine\n\n| | |\n|---|---|\n");
    machine.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v).append(" |\n"));
    for (String group : groups()) {
      md.append("\n## ").append(group).append("\n\n");
      md.append("| figure | subject | baseline | ratio | goal | met |\n|---|---|---|---|---|---|\n");
      for (Measurement m : of(group)) {
        md.append("| ").append(m.title()).append(" | ").append(cell(m.subject(), m.unit())).append(" | ")
            .append(m.baseline() == null ? "" : cell(m.baseline(), m.unit())).append(" | ")
            .append(m.ratio() == null ? "" : String.format(Locale.ROOT, "%.2fx", m.ratio())).append(" | ")
            .append(m.goal().text()).append(" | ")
            .append(m.goalMet() == null ? "" : m.goalMet() ? "yes" : "**no**").append(" |\n");
      }
      for (Measurement m : of(group)) {
        if (!m.note().isEmpty()) {
          md.append("\n- ").append(m.title()).append(": ").append(m.note());
        }
      }
      md.append("\n\n![").append(group).append("](").append(charts.get(group)).append(")\n");
    }
    return md.toString();
  }

  private static String cell(Series s, String unit) {
    return s.name() + ": " + fmt(s.median()) + " " + unit + " [" + fmt(s.min()) + "–" + fmt(s.max()) + "]";
  }

  static String fmt(double v) {
    if (Math.abs(v) >= 100) {
      return String.format(Locale.ROOT, "%.0f", v);
    }
    if (Math.abs(v) >= 10) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
