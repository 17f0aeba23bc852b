package io.snakepit.bench;

import java.util.List;
import java.util.Locale;

/** A horizontal bar chart of medians with min–max whiskers: subject and baseline of each figure of a group. */
final class Svg {
  private static final int WIDTH = 760;
  private static final int LABEL = 330;
  private static final int BAR = 14;
  private static final int GAP = 8;

  private Svg() {}

  static String chart(String title, List<Measurement> ms) {
    double max = ms.stream().mapToDouble(m -> Math.max(m.subject().max(), m.baseline() == null ? 0
        : m.baseline().max())).max().orElse(1);
    int rows = ms.stream().mapToInt(m -> m.baseline() == null ? 1 : 2).sum();
    int height = 40 + rows * (BAR + GAP) + ms.size() * GAP + 20;
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
        + " font-family=\"sans-serif\" font-size=\"11\">\n", WIDTH, height));
    s.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"16\" font-size=\"14\">%s (median, whiskers min–max)"
        + "</text>\n", esc(title)));
    int y = 32;
    for (Measurement m : ms) {
      y = bar(s, y, m.title() + " — " + m.subject().name(), m.subject(), m.unit(), max, "#3b6ea5");
      if (m.baseline() != null) {
        y = bar(s, y, m.baseline().name(), m.baseline(), m.unit(), max, "#b0b0b0");
      }
      y += GAP;
    }
    s.append("</svg>\n");
    return s.toString();
  }

  private static int bar(StringBuilder s, int y, String label, Series series, String unit, double max, String colour) {
    double scale = (WIDTH - LABEL - 90) / max;
    String shown = label.length() > 58 ? label.substring(0, 57) + "…" : label;
    s.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\">%s</text>\n", y + BAR - 3, esc(shown)));
    s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
        LABEL, y, series.median() * scale, BAR, colour));
    double x0 = LABEL + series.min() * scale;
    double x1 = LABEL + series.max() * scale;
    int mid = y + BAR / 2;
    s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#222\"/>\n",
        x0, mid, x1, mid));
    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s %s</text>\n", Math.max(x1,
        LABEL + series.median() * scale) + 4, y + BAR - 3, Report.fmt(series.median()), esc(unit)));
    return y + BAR + GAP;
  }

  private static String esc(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
