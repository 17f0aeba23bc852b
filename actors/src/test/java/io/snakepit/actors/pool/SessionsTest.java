package io.snakepit.actors.pool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SessionsTest {

  private final AtomicLong now = new AtomicLong();
  private final Sessions<String> sessions = new Sessions<>(Duration.ofSeconds(10), now::get);

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  @Test
  void aSessionBindsToTheSlotOfItsFirstCallOnly() {
    sessions.bindIfNew("s", "slot-0");
    sessions.bindIfNew("s", "slot-1");
    assertTrue(sessions.isBound("s"));
    assertEquals("slot-0", sessions.use("s"));
    assertFalse(sessions.isBound("other"));
    assertNull(sessions.use("other"));
  }

  @Test
  void callsWithoutASessionBindNothing() {
    sessions.bindIfNew(null, "slot-0");
    assertEquals(0, sessions.size());
    assertFalse(sessions.isBound(null));
  }

  @Test
  void anUnusedSessionExpiresAfterItsTtl() {
    sessions.bindIfNew("s", "slot-0");
    advance(Duration.ofSeconds(9));
    sessions.expire(slot -> false);
    assertTrue(sessions.isBound("s"));
    advance(Duration.ofSeconds(1));
    sessions.expire(slot -> false);
    assertFalse(sessions.isBound("s"));
  }

  @Test
  void eachUseStartsItsTtlAgain() {
    sessions.bindIfNew("s", "slot-0");
    advance(Duration.ofSeconds(8));
    sessions.use("s");
    advance(Duration.ofSeconds(8));
    sessions.expire(slot -> false);
    assertTrue(sessions.isBound("s"));
  }

  @Test
  void aSessionWhoseSlotHoldsWaitingCallsIsKeptPastItsTtl() {
    sessions.bindIfNew("busy", "slot-0");
    sessions.bindIfNew("quiet", "slot-1");
    advance(Duration.ofMinutes(1));
    sessions.expire("slot-0"::equals);
    assertTrue(sessions.isBound("busy"));
    assertFalse(sessions.isBound("quiet"));
  }
}
