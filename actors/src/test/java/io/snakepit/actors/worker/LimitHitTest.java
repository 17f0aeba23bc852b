package io.snakepit.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.snakepit.WorkerCrashedException;
import io.snakepit.shim.Cgroups;
import org.junit.jupiter.api.Test;

/** A limit hit names the limit and the setting to raise; memory wins over pids. */
class LimitHitTest {
  private static final Cgroups.Limits LIMITS = new Cgroups.Limits(128L << 20, 32, 0);

  @Test
  void noCountedHitIsNoHit() {
    assertTrue(LimitHit.of(Cgroups.Counters.NONE, LIMITS).isEmpty());
  }

  @Test
  void memoryAndPidsHitsNameTheirLimit() {
    LimitHit memory = LimitHit.of(new Cgroups.Counters(1, 5), LIMITS).orElseThrow();
    assertEquals(WorkerCrashedException.Reason.MEMORY_LIMIT, memory.reason());
    assertTrue(memory.message().startsWith("killed: memory limit 128 MiB exceeded"), memory.message());
    assertTrue(memory.message().contains("1 process of the worker"), memory.message());
    LimitHit pids = LimitHit.of(new Cgroups.Counters(0, 3), LIMITS).orElseThrow();
    assertEquals(WorkerCrashedException.Reason.PIDS_LIMIT, pids.reason());
    assertTrue(pids.message().contains("pids limit 32 reached (3 forks refused"), pids.message());
  }
}
