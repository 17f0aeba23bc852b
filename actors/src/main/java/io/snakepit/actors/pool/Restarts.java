package io.snakepit.actors.pool;

import java.time.Duration;

/**
 * How long the pool waits before a slot's next worker, and before a crashed idempotent call runs again: the restart
 * backoff after failed starts, the backoff of a tainted slot (one that loses workers without calls), and the retry
 * backoff. Each doubles per failure, within its bounds.
 */
final class Restarts {

  private final PoolSettings settings;

  Restarts(PoolSettings settings) {
    this.settings = settings;
  }

  /** The delay after the {@code failures}-th failure in a row: restart-backoff.min doubled, at most .max. */
  Duration backoff(int failures) {
    long min = settings.restartBackoffMin().toMillis();
    long delay = min << Math.min(failures - 1, 16);
    return Duration.ofMillis(Math.min(delay, settings.restartBackoffMax().toMillis()));
  }

  /** Whether {@code crashes} deaths without a call within the taint window taint the slot. */
  boolean tainted(int crashes) {
    return crashes >= settings.taintCrashes();
  }

  /** The delay before a tainted slot's next worker: backoff from the first crash that tainted it on. */
  Duration taintBackoff(int crashes) {
    return backoff(crashes - settings.taintCrashes() + 1);
  }

  /** The delay before an idempotent call's next attempt after its {@code attempt}-th crashed. */
  Duration retryDelay(int attempt) {
    return settings.retryBackoff().multipliedBy(1L << Math.min(attempt - 1, 10));
  }
}
