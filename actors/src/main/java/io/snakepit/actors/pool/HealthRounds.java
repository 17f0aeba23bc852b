package io.snakepit.actors.pool;

import io.snakepit.actors.worker.WorkerSettings;
import java.util.ArrayList;
import java.util.List;

/**
 * Which workers a pool's health round ticks. One round every {@code health.interval}, for the whole pool rather than
 * a timer per worker: the pings of a round go out together, so a big idle pool wakes the node a few times a second,
 * not once per worker. A round ticks at most {@code max-rate} x interval workers (0: all), taking turns: in a pool
 * past that, each worker's turn comes every {@code ceil(workers / per round)} rounds.
 */
final class HealthRounds {
  private final int perRound;
  private int next;

  HealthRounds(WorkerSettings.Health health) {
    double perInterval = health.maxRate() * health.interval().toNanos() / 1e9;
    this.perRound = health.maxRate() <= 0 ? Integer.MAX_VALUE : (int) Math.max(1, Math.ceil(perInterval));
  }

  /** The workers this round ticks, of those whose worker is {@code ready}, taking up where the last round stopped. */
  List<Slot> next(List<Slot> ready) {
    int n = Math.min(perRound, ready.size());
    List<Slot> round = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      round.add(ready.get((next + i) % ready.size()));
    }
    next = ready.isEmpty() ? 0 : (next + n) % ready.size();
    return round;
  }
}
