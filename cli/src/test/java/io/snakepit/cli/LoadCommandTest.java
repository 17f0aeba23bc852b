package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.snakepit.proto.ExecuteRequest;
import java.time.Duration;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** {@code snakepit load}'s flag values and its JSON result, without a node. */
class LoadCommandTest {

  @Test
  void rateIsCallsPerSecondWithOrWithoutTheUnit() {
    LoadCommand.RateConverter rate = new LoadCommand.RateConverter();
    assertEquals(500.0, rate.convert("500/s"));
    assertEquals(500.0, rate.convert("500"));
    assertEquals(0.5, rate.convert("0.5/s"));
    for (String bad : new String[] {"0", "0/s", "-3/s", "fast", "500/m", "Infinity", "NaN"}) {
      assertThrows(TypeConversionException.class, () -> rate.convert(bad), bad);
    }
  }

  @Test
  void durationTakesAUnitOrSeconds() {
    LoadCommand.DurationConverter duration = new LoadCommand.DurationConverter();
    assertEquals(Duration.ofSeconds(30), duration.convert("30s"));
    assertEquals(Duration.ofSeconds(30), duration.convert("30"));
    assertEquals(Duration.ofMillis(500), duration.convert("500ms"));
    assertEquals(Duration.ofMillis(2500), duration.convert("2.5s"));
    assertEquals(Duration.ofMinutes(2), duration.convert("2m"));
    assertEquals(Duration.ofHours(1), duration.convert("1h"));
    for (String bad : new String[] {"0s", "0", "-1s", "3x", "s", ""}) {
      assertThrows(TypeConversionException.class, () -> duration.convert(bad), bad);
    }
  }

  @Test
  void jsonResultHasTheDocumentedFieldsInMilliseconds() {
    Histogram micros = new Histogram(3);
    micros.recordValue(1_000);
    micros.recordValue(3_000);
    LoadRun.Plan plan = new LoadRun.Plan(ExecuteRequest.newBuilder().setTool("ping").build(), 2, null, 3, null,
        Duration.ofSeconds(60));
    LoadResult result = LoadResult.of(plan, 2_000_000_000L, 2, Map.of("ValueError", 1L), micros);
    assertEquals("{\"tool\":\"ping\",\"concurrency\":2,\"rate\":null,\"requests\":3,\"seconds\":2.000,"
        + "\"throughput\":1.50,\"ok\":2,\"errors\":{\"ValueError\":1},\"latency_ms\":{\"p50\":1.00,\"p90\":3.00,"
        + "\"p99\":3.00,\"p99.9\":3.00,\"max\":3.00,\"mean\":2.00}}", result.json().toString());
  }
}
