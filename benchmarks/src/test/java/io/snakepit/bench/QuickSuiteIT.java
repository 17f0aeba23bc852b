package io.snakepit.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The suite's smoke test, part of {@code mvn verify}: {@code benchmarks/run --quick} end to end. It asserts that every
 * benchmark ran and that no process of any benchmark node outlived it, never how fast anything was.
 */
class QuickSuiteIT {

  @Test
  void theQuickSuiteRunsEveryBenchmarkAndLeaksNothing() throws Exception {
    Path results = Files.createTempDirectory("bench-quick");
    int status = Suite.run("--quick", "--results", results.toString());
    assertEquals(0, status, "the quick suite failed or leaked processes (see its output above)");
    String name = java.time.LocalDate.now() + "-quick";
    JsonNode report = new ObjectMapper().readTree(results.resolve(name + ".json").toFile());
    for (Suite.Entry bench : Suite.all()) {
      boolean present = false;
      for (JsonNode m : report.get("measurements")) {
        present |= m.get("id").asText().startsWith(bench.id() + ".");
      }
      assertTrue(present, "no measurement of " + bench.id() + " in " + report);
    }
    assertTrue(Files.readString(results.resolve(name + ".md")).contains("## Machine"));
  }
}
