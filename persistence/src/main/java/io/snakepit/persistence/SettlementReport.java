package io.snakepit.persistence;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What a settlement found and did, entry by entry.
 *
 * @param rows one per open entry
 * @param dryRun whether nothing was signalled or journaled
 * @param took how long it took
 * @param pidfd whether signals went through pidfds
 * @param journalWarnings what is wrong with the journal itself (damaged, rolled back, recreated), each naming the
 *     file; empty when it is sound
 */
public record SettlementReport(List<Row> rows, boolean dryRun, Duration took, boolean pidfd,
    List<String> journalWarnings) {

  public SettlementReport {
    journalWarnings = List.copyOf(journalWarnings);
  }

  /** This report with {@code warnings} about the journal added. */
  public SettlementReport withJournalWarnings(List<String> warnings) {
    List<String> all = new ArrayList<>(journalWarnings);
    all.addAll(warnings);
    return new SettlementReport(rows, dryRun, took, pidfd, all);
  }

  /** Entries the journal did not have: trees found in /proc by their markers alone. */
  public long untracked() {
    return rows.stream().filter(r -> Reaper.UNTRACKED.equals(r.entry().incarnation())).count();
  }

  /**
   * One entry.
   *
   * @param entry the journal entry
   * @param how how it was closed; null if it stays open (watched)
   * @param action the policy's action, empty if none applied
   * @param processes the verified live processes of its tree (signalled unless dry run or watched)
   * @param impostors recorded pids that now belong to other processes, with why
   * @param age the age of its oldest live process
   * @param detail a sentence for the log and the table
   */
  public record Row(RegistryEntry entry, Settlement how, String action, List<Integer> processes,
      List<String> impostors, Duration age, String detail) {}

  /** The closings to journal: every entry but the watched ones. */
  public List<WorkerRegistry.Closing> closings() {
    List<WorkerRegistry.Closing> closings = new ArrayList<>();
    for (Row r : rows) {
      if (r.how() != null) {
        closings.add(new WorkerRegistry.Closing(r.entry().nonce(), r.how(), r.detail()));
      }
    }
    return closings;
  }

  /** Entries closed in a given way. */
  public long count(Settlement how) {
    return rows.stream().filter(r -> r.how() == how).count();
  }

  /** The one-line summary {@code snakepit serve} prints. */
  public String summary() {
    long processes = rows.stream().filter(r -> r.how() == Settlement.KILLED).mapToLong(r -> r.processes().size())
        .sum();
    long watched = rows.stream().filter(r -> r.how() == null).count();
    return (dryRun ? "would settle: " : "settled: ") + closings().size() + " entries, " + count(Settlement.KILLED)
        + " killed, " + count(Settlement.IMPOSTOR) + " impostors skipped; " + processes + " processes signalled, "
        + count(Settlement.REBOOTED) + " dropped after a reboot, " + watched + " watched, in " + took.toMillis()
        + " ms" + (untracked() == 0 ? "" : "; " + untracked() + " not in the journal (found in /proc)")
        + journalWarnings.stream().map(w -> "; JOURNAL: " + w).collect(Collectors.joining());
  }

  /** A table of every entry, for {@code snakepit reap}. */
  public String table() {
    StringBuilder b = new StringBuilder();
    b.append(String.format("%-18s %-22s %-8s %-8s %-26s %-24s %s%n", "NONCE", "WORKER", "PID", "AGE", "ACTION",
        "RESULT", "DETAIL"));
    for (Row r : rows) {
      RegistryEntry e = r.entry();
      String pid = e.spawned() == null ? "-" : Integer.toString(e.spawned().identity().pid());
      String result = r.how() == null ? "left open (watched)"
          : (dryRun ? "would be " : "") + r.how().description();
      b.append(String.format("%-18s %-22s %-8s %-8s %-26s %-24s %s%n", e.nonce(), e.workerId(), pid,
          r.processes().isEmpty() ? "-" : r.age().toSeconds() + "s", r.action().isEmpty() ? "-" : r.action(),
          result, r.detail()));
    }
    return b.toString();
  }
}
