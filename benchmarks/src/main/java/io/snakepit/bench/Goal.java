package io.snakepit.bench;

/**
 * What a measurement should reach: a bound on its median, or on the ratio of its median to its baseline's.
 *
 * @param kind which bound
 * @param value the bound
 * @param text the goal as the issue states it, e.g. "<= 1.2x the floor"
 */
public record Goal(Kind kind, double value, String text) {

  /** The bounds. */
  public enum Kind {
    /** median <= value */
    AT_MOST,
    /** ratio to baseline <= value */
    RATIO_AT_MOST,
    /** ratio to baseline >= value */
    RATIO_AT_LEAST,
    /** none: a figure reported for what it is */
    NONE
  }

  public static Goal none() {
    return new Goal(Kind.NONE, 0, "reported, no goal");
  }

  public static Goal atMost(double value, String text) {
    return new Goal(Kind.AT_MOST, value, text);
  }

  public static Goal ratioAtMost(double value, String text) {
    return new Goal(Kind.RATIO_AT_MOST, value, text);
  }

  public static Goal ratioAtLeast(double value, String text) {
    return new Goal(Kind.RATIO_AT_LEAST, value, text);
  }

  /** Whether {@code m} meets it; null when there is no goal. */
  public Boolean met(Measurement m) {
    return switch (kind) {
      case NONE -> null;
      case AT_MOST -> m.subject().median() <= value;
      case RATIO_AT_MOST -> m.ratio() != null && m.ratio() <= value;
      case RATIO_AT_LEAST -> m.ratio() != null && m.ratio() >= value;
    };
  }
}
