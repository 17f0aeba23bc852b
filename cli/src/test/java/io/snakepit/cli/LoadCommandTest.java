package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.snakepit.proto.ExecuteRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
  void warmupTakesZeroAsNoneAndOtherwiseADuration() {
    LoadCommand.WarmupConverter warmup = new LoadCommand.WarmupConverter();
    for (String none : new String[] {"0", "0s", "0ms", "0.0s"}) {
      assertEquals(Duration.ZERO, warmup.convert(none), none);
    }
    assertEquals(Duration.ofSeconds(5), warmup.convert("5s"));
    assertEquals(Duration.ofMillis(500), warmup.convert("500ms"));
    for (String bad : new String[] {"-1s", "3x", ""}) {
      assertThrows(TypeConversionException.class, () -> warmup.convert(bad), bad);
    }
  }

  @Test
  void aWarmUpAddsItsOwnLineAndFieldLeavingTheOthersAsTheyWere() {
    Histogram micros = new Histogram(3);
    micros.recordValue(1_000);
    LoadRun.Plan plan = new LoadRun.Plan(ExecuteRequest.newBuilder().setTool("ping").build(), 1, null, 1, null,
        Duration.ofSeconds(60));
    LoadResult plain = LoadResult.of(plan, 1_000_000_000L, 1, Map.of(), micros);
    LoadResult warmed = plain.after(new LoadResult.Warmup(5.0004, 1234));
    List<String> with = warmed.lines();
    assertEquals("warm-up: 1234 calls in 5.00 s before these, excluded from every figure", with.get(1));
    List<String> without = new ArrayList<>(with);
    without.remove(1);
    assertEquals(plain.lines(), without);
    assertEquals("{\"requests\":1234,\"seconds\":5.000}", warmed.json().get("warmup").toString());
    assertEquals(null, plain.json().get("warmup"));
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
        + "\"p99\":3.00,\"p99.9\":3.00,\"max\":3.00,\"mean\":2.00},\"sent\":3}", result.json().toString());
  }
}
