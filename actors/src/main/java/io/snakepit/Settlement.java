package io.snakepit;

import io.snakepit.persistence.SettlementReport;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What a node's start did with the workers earlier JVMs of its instance left: how many process trees it killed, how
 * many it found only in /proc, what is wrong with the journal itself, and how long it took.
 *
 * @param killed the entries whose process trees were killed
 * @param untracked the trees the journal did not have, found in /proc by their markers alone
 * @param journalWarnings what is wrong with the journal (damaged, rolled back, recreated), each naming the file;
 *     empty when it is sound
 * @param took how long the settlement took
 * @param summary the one line {@code snakepit serve} prints, starting {@code settled: }
 */
public record Settlement(long killed, long untracked, List<String> journalWarnings, Duration took, String summary) {

  public Settlement {
    journalWarnings = List.copyOf(journalWarnings);
    Objects.requireNonNull(took, "took");
    Objects.requireNonNull(summary, "summary");
  }

  /** The facts of {@code report} a caller of the public API uses. */
  static Settlement of(SettlementReport report) {
    return new Settlement(report.count(io.snakepit.persistence.Settlement.KILLED), report.untracked(),
        report.journalWarnings(), report.took(), report.summary());
  }
}
