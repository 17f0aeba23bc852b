package io.snakepit.persistence;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What to do with a live orphan, by its age: tiers of (younger than → action), tried in order.
 *
 * @param tiers the tiers, youngest first
 */
public record OrphanPolicy(List<Tier> tiers) {

  /** An action on an orphan. */
  public enum Action { WATCH, TERMINATE, KILL }

  /**
   * One tier.
   *
   * @param youngerThan the tier applies to orphans younger than this
   * @param action what to do
   * @param grace for TERMINATE, the time between SIGTERM and SIGKILL
   */
  public record Tier(Duration youngerThan, Action action, Duration grace) {
    /** How a report reads it, e.g. "terminate (grace 5 s)". */
    public String describe() {
      return switch (action) {
        case WATCH -> "watch";
        case KILL -> "kill";
        case TERMINATE -> "terminate (grace " + grace.toMillis() / 1000.0 + " s)";
      };
    }
  }

  /** Reads {@code snakepit.registry.orphan-policy}. */
  public static OrphanPolicy fromConfig(Config registry) {
    List<Tier> tiers = new ArrayList<>();
    for (Config t : registry.getConfigList("orphan-policy")) {
      String name = t.getString("action").toLowerCase(Locale.ROOT);
      Action action = switch (name) {
        case "watch" -> Action.WATCH;
        case "terminate" -> Action.TERMINATE;
        case "kill" -> Action.KILL;
        default -> throw new IllegalArgumentException("snakepit.registry.orphan-policy: unknown action '" + name
            + "'; use watch, terminate or kill");
      };
      Duration grace = t.hasPath("grace") ? t.getDuration("grace") : Duration.ZERO;
      tiers.add(new Tier(t.getDuration("younger-than"), action, grace));
    }
    if (tiers.isEmpty()) {
      throw new IllegalArgumentException("snakepit.registry.orphan-policy is empty: give at least one tier");
    }
    return new OrphanPolicy(List.copyOf(tiers));
  }

  /** The tier for an orphan of this age. */
  public Tier forAge(Duration age) {
    for (Tier t : tiers) {
      if (age.compareTo(t.youngerThan()) < 0) {
        return t;
      }
    }
    return tiers.get(tiers.size() - 1);
  }
}
