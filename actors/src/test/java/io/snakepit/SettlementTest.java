package io.snakepit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.persistence.Reaper;
import io.snakepit.persistence.RegistryEntry;
import io.snakepit.persistence.SettlementReport;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The public Settlement carries the report's counts, warnings and duration, and its settled: line unchanged. */
class SettlementTest {
  // The persistence enum of how an entry was closed; its simple name is taken by the public record.
  private static final io.snakepit.persistence.Settlement KILLED = io.snakepit.persistence.Settlement.KILLED;
  private static final io.snakepit.persistence.Settlement IMPOSTOR = io.snakepit.persistence.Settlement.IMPOSTOR;

  private static SettlementReport.Row row(String incarnation, io.snakepit.persistence.Settlement how,
      List<Integer> processes) {
    RegistryEntry entry = new RegistryEntry("n" + processes, "w", incarnation, 0, "boot", List.of(), null, null);
    return new SettlementReport.Row(entry, how, "", processes, List.of(), Duration.ZERO, "detail");
  }

  @Test
  void carriesWhatTheReportFoundAndItsSettledLine() {
    SettlementReport report = new SettlementReport(List.of(row("3", KILLED, List.of(11, 12)),
        row(Reaper.UNTRACKED, KILLED, List.of(13)), row("3", IMPOSTOR, List.of())), false, Duration.ofMillis(42),
        true, List.of("journal rolled back"));
    Settlement s = Settlement.of(report);
    assertEquals(2, s.killed());
    assertEquals(1, s.untracked());
    assertEquals(List.of("journal rolled back"), s.journalWarnings());
    assertEquals(Duration.ofMillis(42), s.took());
    assertEquals(report.summary(), s.summary());
    assertTrue(s.summary().startsWith("settled: 3 entries, 2 killed, 1 impostors skipped; 3 processes signalled"),
        s.summary());
  }
}
