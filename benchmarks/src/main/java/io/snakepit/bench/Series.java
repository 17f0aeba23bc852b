package io.snakepit.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The samples of one quantity, one per run, with the statistics the report quotes.
 *
 * @param name what was measured, e.g. "snakepit, process mode" or "floor: bare Python servers"
 * @param samples one value per run, in the measurement's unit
 */
public record Series(String name, List<Double> samples) {

  public Series {
    samples = List.copyOf(samples);
  }

  public double median() {
    return percentile(50);
  }

  public double min() {
    return sorted().get(0);
  }

  public double max() {
    return sorted().get(samples.size() - 1);
  }

  /** The nearest-rank percentile of the samples. */
  public double percentile(double p) {
    List<Double> s = sorted();
    if (s.isEmpty()) {
      return Double.NaN;
    }
    if (p == 50 && s.size() % 2 == 0) {
      return (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }
    int rank = (int) Math.ceil(p / 100.0 * s.size());
    return s.get(Math.max(0, Math.min(s.size() - 1, rank - 1)));
  }

  private List<Double> sorted() {
    List<Double> s = new ArrayList<>(samples);
    Collections.sort(s);
    return s;
  }
}
