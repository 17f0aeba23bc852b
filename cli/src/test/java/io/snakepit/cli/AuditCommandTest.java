package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.actors.AuditLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code snakepit audit}'s parts: --since, the readable line, and the order of the files. */
class AuditCommandTest {
  private static final Instant NOW = Instant.parse("2026-12-02T18:00:00Z");

  @TempDir
  Path dir;

  @Test
  void sinceTakesADurationBackOrAnIsoTime() {
    assertEquals(Instant.parse("2026-12-02T17:50:00Z"), AuditCommand.since("10m", NOW));
    assertEquals(Instant.parse("2026-12-02T16:00:00Z"), AuditCommand.since("2h", NOW));
    assertEquals(Instant.parse("2026-12-01T18:00:00Z"), AuditCommand.since("1d", NOW));
    assertEquals(Instant.parse("2026-12-02T17:59:30Z"), AuditCommand.since("30s", NOW));
    assertEquals(Instant.parse("2026-12-02T16:00:00Z"), AuditCommand.since("2026-12-02T18:00:00+02:00", NOW));
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> AuditCommand.since("10x", NOW));
    assertTrue(bad.getMessage().contains("'10x'") && bad.getMessage().contains("2h"), bad.getMessage());
  }

  @Test
  void aReadableLineHasTimeEventPoolWorkerThenTheRest() throws Exception {
    String line = AuditCommand.readable(new ObjectMapper().readTree("{\"time\":\"2026-12-02T18:00:00.125Z\","
        + "\"event\":\"WorkerExited\",\"instance\":\"i\",\"pool\":\"p\",\"worker\":\"p-0-1\",\"pid\":41,"
        + "\"shim_pid\":40,\"reason\":\"killed\",\"status\":\"killed by signal 9\",\"during_call\":false}"));
    assertEquals("2026-12-02T18:00:00.125Z  WorkerExited     p/p-0-1 pid=41 shim_pid=40 reason=killed"
        + " status=\"killed by signal 9\" during_call=false", line);
  }

  @Test
  void filesAreReadOldestFirst() throws Exception {
    Path current = AuditLog.file(dir, "i");
    Files.createDirectories(current.getParent());
    for (Path p : List.of(current, AuditLog.rotated(current, 1), AuditLog.rotated(current, 2))) {
      Files.writeString(p, "");
    }
    assertEquals(List.of(AuditLog.rotated(current, 2), AuditLog.rotated(current, 1), current),
        AuditCommand.files(current));
  }
}
