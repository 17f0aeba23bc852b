package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.snakepit.actors.worker.WorkerSettings.Output;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The output settings' defaults, and errors that name the setting, the value and the fix. */
class OutputSettingsTest {

  private static WorkerSettings settings(String overrides) {
    return WorkerSettings.fromConfig(ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.load().getConfig("snakepit.pool-defaults")));
  }

  @Test
  void defaultsLogWithinTwoHundredLinesASecondAndCutAtEightKibibytes() {
    assertEquals(new Output(Output.Mode.LOG, 8192, 200, 1000, Duration.ofSeconds(5), "", 10L * 1024 * 1024, 2, "INFO"),
        settings("").output());
    assertEquals(Output.Mode.FILE, settings("output = file").output().mode());
    assertEquals(Output.Mode.DISCARD, settings("output = discard").output().mode());
  }

  @Test
  void malformedValuesNameTheSettingAndTheFix() {
    String mode = assertThrows(IllegalArgumentException.class, () -> settings("output = syslog")).getMessage();
    assertTrue(mode.contains("output is 'syslog'") && mode.contains("log, file or discard"), mode);
    String line = assertThrows(IllegalArgumentException.class, () -> settings("output-max-line = 10")).getMessage();
    assertTrue(line.contains("output-max-line is 10 bytes") && line.contains("8KiB"), line);
    String rate = assertThrows(IllegalArgumentException.class, () -> settings("output-rate = -1")).getMessage();
    assertTrue(rate.contains("output-rate is -1.0") && rate.contains("0 for no limit"), rate);
    String keep = assertThrows(IllegalArgumentException.class, () -> settings("output-file.keep = -2")).getMessage();
    assertTrue(keep.contains("output-file.keep is -2"), keep);
  }
}
