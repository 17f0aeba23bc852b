package io.snakepit.bench;

/**
 * One figure of the report: the subject's samples, the baseline's measured in the same run (if any), and the goal.
 *
 * @param id a stable key, e.g. "start.process.n8"
 * @param group the question it answers, e.g. "Start"
 * @param title what was measured, for people
 * @param unit the samples' unit, e.g. "ms" or "calls/s"
 * @param subject what this project does
 * @param baseline the floor or the peer it is compared with, or null
 * @param goal what it should reach
 * @param note how to read it, or why a goal is missed
 */
public record Measurement(String id, String group, String title, String unit, Series subject, Series baseline,
    Goal goal, String note) {

  /** subject median / baseline median, or null without a baseline. */
  public Double ratio() {
    if (baseline == null || baseline.samples().isEmpty() || baseline.median() == 0) {
      return null;
    }
    return subject.median() / baseline.median();
  }

  public Boolean goalMet() {
    return goal.met(this);
  }

  public Measurement withNote(String text) {
    return new Measurement(id, group, title, unit, subject, baseline, goal, text);
  }
}
