package io.snakepit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The dashboard's settings as reference.conf gives them and as they are refused, and its files in the jar. */
class DashboardTest {
  private static Dashboard.Settings settings(String block) {
    return Dashboard.Settings.of(ConfigFactory.parseString("snakepit.http.dashboard { " + block + " }")
        .withFallback(ConfigFactory.defaultReference()));
  }

  @Test
  void theDefaultsAreOneSampleEveryFiveSecondsForFifteenMinutesAndTwoHundredEvents() {
    Dashboard.Settings s = settings("");
    assertEquals(new Dashboard.Settings(Duration.ofSeconds(5), Duration.ofMinutes(15), 200), s);
    assertEquals(180, CallHistory.capacity(s.history(), s.sampleInterval()));
  }

  @Test
  void aBadSettingIsRefusedNamingItItsValueAndWhatItTakes() {
    ConfigException fast = assertThrows(ConfigException.class, () -> settings("sample-interval = 10ms"));
    assertTrue(fast.getMessage().contains("snakepit.http.dashboard.sample-interval")
        && fast.getMessage().contains("it is 10ms") && fast.getMessage().contains("100ms or more"), fast.getMessage());
    ConfigException shortHistory = assertThrows(ConfigException.class,
        () -> settings("sample-interval = 10s, history = 5s"));
    assertTrue(shortHistory.getMessage().contains("snakepit.http.dashboard.history")
        && shortHistory.getMessage().contains("it is 5s at one sample every 10s"), shortHistory.getMessage());
    ConfigException events = assertThrows(ConfigException.class, () -> settings("events = 0"));
    assertTrue(events.getMessage().contains("snakepit.http.dashboard.events")
        && events.getMessage().contains("1 to 100000"), events.getMessage());
  }

  @Test
  void everyFileOfThePageIsInTheJarAndThePageLoadsOnlyItsOwnFiles() {
    for (Dashboard.Asset asset : Dashboard.ASSETS.values()) {
      assertTrue(asset.read().length > 100, asset.name());
    }
    String page = new String(Dashboard.ASSETS.get("/").read(), StandardCharsets.UTF_8);
    assertTrue(page.contains("src=\"dashboard.js\"") && page.contains("href=\"dashboard.css\""), page);
    assertTrue(!page.contains("http://") && !page.contains("https://"), "the page loads nothing from elsewhere");
  }
}
