package io.snakepit.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.snakepit.SnakepitEvent;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The audit log's files: their modes, the JSON of a line, and rotation that loses no line it keeps. */
class AuditLogTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir
  Path dir;

  private static SnakepitEvent.WorkerReserved reserved(int n) {
    return new SnakepitEvent.WorkerReserved(Instant.parse("2026-12-02T18:00:00.125Z"), "rot", "p", "p-0-" + n);
  }

  /** The workers' numbers in the lines of {@code files}, read in the order given. */
  private static List<Integer> numbers(List<Path> files) throws Exception {
    List<Integer> seen = new ArrayList<>();
    for (Path f : files) {
      for (String line : Files.readAllLines(f)) {
        String worker = MAPPER.readTree(line).get("worker").asText();
        seen.add(Integer.parseInt(worker.substring("p-0-".length())));
      }
    }
    return seen;
  }

  private static int mode(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0777;
  }

  @Test
  void aLineHasTimeEventInstanceThenTheFieldsInSnakeCase() throws Exception {
    Instant at = Instant.parse("2026-12-02T18:00:00.125Z");
    JsonNode line = MAPPER.readTree(MAPPER.writeValueAsString(AuditLog.json(new SnakepitEvent.WorkerReady(at, "i",
        "p", "p-0-1", 41, 41, 40, "boot", Duration.ofMillis(523)))));
    assertEquals("{\"time\":\"2026-12-02T18:00:00.125Z\",\"event\":\"WorkerReady\",\"instance\":\"i\",\"pool\":\"p\","
        + "\"worker\":\"p-0-1\",\"pid\":41,\"pgid\":41,\"shim_pid\":40,\"boot_id\":\"boot\",\"start_took_ms\":523}",
        line.toString());
    JsonNode settled = AuditLog.json(new SnakepitEvent.OrphanSettled(at, "i", "p-0-1", 41, "killed", List.of(41, 42),
        "SIGKILL"));
    assertEquals("[41,42]", settled.get("processes").toString());
    assertEquals("failed", AuditLog.json(new SnakepitEvent.CallEnded(at, "i", "p", "p-0-1", 7, "t",
        SnakepitEvent.Outcome.FAILED, Duration.ZERO)).get("outcome").asText());
  }

  @Test
  void filesAre0600InA0700Directory() throws Exception {
    AuditLog log = AuditLog.open(dir.resolve("data"), "rot", 1 << 20, 2);
    log.append(reserved(1));
    log.close();
    assertEquals(0700, mode(dir.resolve("data/audit")));
    assertEquals(0600, mode(AuditLog.file(dir.resolve("data"), "rot")));
    assertEquals(List.of(1), numbers(List.of(AuditLog.file(dir.resolve("data"), "rot"))));
  }

  @Test
  void aSymlinkInPlaceOfTheAuditDirectoryIsRefused() throws Exception {
    Path data = Files.createDirectory(dir.resolve("data"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.createSymbolicLink(data.resolve("audit"), Files.createDirectory(dir.resolve("elsewhere")));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> AuditLog.open(data, "rot", 1000, 1));
    assertTrue(e.getMessage().contains(data.resolve("audit") + " is a symlink"), e.getMessage());
    assertFalse(Files.exists(dir.resolve("elsewhere/rot.jsonl")));
  }

  @Test
  void aFailedWriteIsCountedAndLoggedOnceAndTheLogGoesOnOnceItWorks() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(AuditLog.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    logger.addAppender(logged);
    try {
      AuditLog log = AuditLog.open(dir, "rot", 10, 1);
      Path current = AuditLog.file(dir, "rot");
      // A directory with an entry where the rotation must delete the older file: every rotation fails.
      Files.createDirectories(AuditLog.rotated(current, 1).resolve("in-the-way"));
      for (int n = 100; n < 103; n++) {
        log.append(reserved(n)); // the first goes into the empty file; the next two need a rotation
      }
      assertEquals(2, log.lost());
      List<String> errors = logged.list.stream().filter(e -> e.getLevel() == Level.ERROR)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertEquals(1, errors.size(), "one ERROR for the outage: " + errors);
      assertTrue(errors.get(0).contains(current.toString()) && errors.get(0).contains("snakepit.audit.enabled"),
          errors.get(0));

      Files.delete(AuditLog.rotated(current, 1).resolve("in-the-way"));
      Files.delete(AuditLog.rotated(current, 1));
      log.append(reserved(103));
      log.close();
      assertEquals(2, log.lost());
      assertEquals(List.of(100), numbers(List.of(AuditLog.rotated(current, 1))));
      assertEquals(List.of(103), numbers(List.of(current)));
      assertTrue(logged.list.stream().anyMatch(e -> e.getFormattedMessage().contains("is written again; 2 events")),
          "no line saying the log works again");
    } finally {
      logger.detachAppender(logged);
    }
  }

  @Test
  void rotationKeepsKeepFilesEachUnderMaxSizeAndLosesNoLineOfThem() throws Exception {
    int lineSize = AuditLog.json(reserved(100)).toString().length() + 1;
    long maxSize = lineSize * 4L;
    AuditLog log = AuditLog.open(dir, "rot", maxSize, 3);
    for (int n = 100; n < 200; n++) {
      log.append(reserved(n));
    }
    log.close();
    Path current = AuditLog.file(dir, "rot");
    List<Path> files = List.of(AuditLog.rotated(current, 3), AuditLog.rotated(current, 2),
        AuditLog.rotated(current, 1), current);
    for (Path f : files) {
      assertTrue(Files.size(f) <= maxSize, f + " has " + Files.size(f) + " bytes, over " + maxSize);
      assertEquals(0600, mode(f), f.toString());
    }
    assertFalse(Files.exists(AuditLog.rotated(current, 4)), "more than keep = 3 older files");
    List<Integer> kept = numbers(files);
    assertEquals(16, kept.size(), "four lines a file, four files: " + kept);
    for (int i = 0; i < kept.size(); i++) {
      assertEquals(184 + i, kept.get(i), "the kept lines are the last ones, in order, without a gap: " + kept);
    }
    assertEquals(0, log.lost());
  }

  @Test
  void aRotationInTheMiddleOfAStreamLosesNothing() throws Exception {
    AuditLog log = AuditLog.open(dir, "all", 300, 1000);
    for (int n = 100; n < 400; n++) {
      log.append(new SnakepitEvent.WorkerReserved(Instant.now(), "all", "p", "p-0-" + n));
    }
    log.close();
    Path current = AuditLog.file(dir, "all");
    List<Path> files = new ArrayList<>();
    for (int i = 1000; i >= 1; i--) {
      if (Files.exists(AuditLog.rotated(current, i))) {
        files.add(AuditLog.rotated(current, i));
      }
    }
    files.add(current);
    assertTrue(files.size() > 50, "300 lines in files of 300 bytes make many files: " + files.size());
    List<Integer> all = numbers(files);
    assertEquals(300, all.size());
    for (int i = 0; i < all.size(); i++) {
      assertEquals(100 + i, all.get(i));
    }
  }
}
