package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A worker's output file rotates before it passes its cap, and keeps only as many old files as asked. */
class OutputFileTest {
  @TempDir
  Path dir;

  @Test
  void filesRotateWithinTheCapAndTheOldestGo() throws Exception {
    OutputFile file = new OutputFile(dir.resolve("output").resolve("w-0-1.log"), 4096, 2);
    for (int i = 0; i < 1000; i++) {
      file.write(String.format("line %04d %s", i, "x".repeat(90))); // 100 bytes with the newline
    }
    file.close();
    Path out = dir.resolve("output");
    try (var files = Files.list(out)) {
      assertEquals(List.of("w-0-1.log", "w-0-1.log.1", "w-0-1.log.2"), files.map(p -> p.getFileName().toString())
          .sorted().toList());
    }
    for (String name : List.of("w-0-1.log", "w-0-1.log.1", "w-0-1.log.2")) {
      assertTrue(Files.size(out.resolve(name)) <= 4096, name + " holds " + Files.size(out.resolve(name)));
    }
    List<String> current = Files.readAllLines(out.resolve("w-0-1.log"));
    assertEquals(String.format("line %04d %s", 999, "x".repeat(90)), current.get(current.size() - 1));
    List<String> older = Files.readAllLines(out.resolve("w-0-1.log.1"));
    assertEquals(String.format("line %04d %s", 999 - current.size(), "x".repeat(90)), older.get(older.size() - 1));
  }

  @Test
  void keepZeroKeepsOnlyTheCurrentFile() throws Exception {
    OutputFile file = new OutputFile(dir.resolve("w.log"), 4096, 0);
    for (int i = 0; i < 200; i++) {
      file.write("y".repeat(99));
    }
    file.close();
    assertFalse(Files.exists(dir.resolve("w.log.1")));
    assertTrue(Files.size(dir.resolve("w.log")) <= 4096);
  }

  @Test
  void aLineOverTheCapIsCutToFit() throws Exception {
    OutputFile file = new OutputFile(dir.resolve("w.log"), 4096, 1);
    file.write("z".repeat(10_000));
    file.close();
    assertEquals(4096, Files.size(dir.resolve("w.log")));
  }
}
