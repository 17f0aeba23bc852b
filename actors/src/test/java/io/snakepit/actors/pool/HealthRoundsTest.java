package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.snakepit.actors.worker.WorkerSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HealthRoundsTest {

  private static List<Slot> slots(int n) {
    List<Slot> slots = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      slots.add(new Slot(i, false));
    }
    return slots;
  }

  private static WorkerSettings.Health health(Duration interval, double maxRate) {
    return new WorkerSettings.Health(interval, Duration.ofSeconds(2), 3, maxRate);
  }

  @Test
  void aSmallPoolHasEveryWorkerTickedEachRound() {
    HealthRounds rounds = new HealthRounds(health(Duration.ofSeconds(5), 10));
    List<Slot> ready = slots(16);
    assertEquals(ready, rounds.next(ready));
    assertEquals(ready, rounds.next(ready));
  }

  @Test
  void aBigPoolTakesTurnsWithinTheRateAndEveryWorkerGetsItsTurn() {
    HealthRounds rounds = new HealthRounds(health(Duration.ofSeconds(5), 10));
    List<Slot> ready = slots(256);
    Map<Slot, Integer> ticks = new HashMap<>();
    for (int round = 0; round < 6; round++) {
      List<Slot> ticked = rounds.next(ready);
      assertEquals(50, ticked.size(), "10 pings a second, one round every 5 s");
      ticked.forEach(s -> ticks.merge(s, 1, Integer::sum));
    }
    assertEquals(256, ticks.size(), "within ceil(256 / 50) = 6 rounds, every worker had its turn");
    assertEquals(300, ticks.values().stream().mapToInt(Integer::intValue).sum());
  }

  @Test
  void noBoundTicksEveryWorkerAndAShortIntervalStillTicksOne() {
    List<Slot> ready = slots(300);
    assertEquals(300, new HealthRounds(health(Duration.ofSeconds(5), 0)).next(ready).size());
    assertEquals(1, new HealthRounds(health(Duration.ofMillis(20), 10)).next(ready).size());
    assertEquals(List.of(), new HealthRounds(health(Duration.ofSeconds(5), 10)).next(List.of()));
  }
}
