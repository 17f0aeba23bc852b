package io.snakepit.actors.supervision;

import static io.snakepit.actors.supervision.ChildTableTest.spec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class ExitsTest {

  private static final RuntimeException CRASH = new RuntimeException("crash");

  private static Exits exits(ChildTable table, int maxRestarts) {
    return new Exits(table, new RestartIntensity(maxRestarts, Duration.ofMinutes(1), () -> 0L),
        LoggerFactory.getLogger(ExitsTest.class));
  }

  private static ChildTable table(Strategy strategy, ChildSpec<?>... specs) {
    return new ChildTable(strategy, List.of(specs));
  }

  @Test
  void permanentChildIsRestartedAfterANormalExitWithItsGroup() {
    ChildTable table = table(Strategy.REST_FOR_ONE, spec("a"), spec("b"), spec("c"));
    Exits exits = exits(table, 3);
    Child<?> b = table.find("b");
    b.wanted = true;
    table.find("c").wanted = true;
    exits.ended(b, null);
    Exits.RestartGroup restart = assertInstanceOf(Exits.RestartGroup.class, exits.decideNext());
    assertEquals(Job.Kind.RESTART, restart.job().kind());
    assertEquals(2, restart.job().steps().size()); // start b, start c
    assertTrue(exits.isEmpty());
  }

  @Test
  void transientChildIsRestartedOnlyAfterAFailure() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, spec("t").withRestart(Restart.TRANSIENT));
    Exits exits = exits(table, 3);
    Child<?> t = table.find("t");
    t.wanted = true;
    exits.ended(t, null);
    assertNull(exits.decideNext());
    assertFalse(t.wanted);
    assertEquals(List.of(t), table.inStartOrder());
    t.wanted = true;
    exits.ended(t, CRASH);
    assertInstanceOf(Exits.RestartGroup.class, exits.decideNext());
  }

  @Test
  void temporaryChildIsNeverRestartedAndItsSpecIsForgotten() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, spec("x").withRestart(Restart.TEMPORARY));
    Exits exits = exits(table, 3);
    exits.ended(table.find("x"), CRASH);
    assertNull(exits.decideNext());
    assertEquals(0, table.size());
  }

  @Test
  void exceedingTheIntensityGivesUpNamingTheChild() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, spec("a"));
    Exits exits = exits(table, 1);
    Child<?> a = table.find("a");
    exits.ended(a, CRASH);
    assertInstanceOf(Exits.RestartGroup.class, exits.decideNext());
    exits.ended(a, CRASH);
    Exits.GiveUp giveUp = assertInstanceOf(Exits.GiveUp.class, exits.decideNext());
    assertEquals("reached its restart intensity, more than 1 restarts within PT1M (the last: child 'a' failed: "
        + CRASH + ")", giveUp.reason());
    assertEquals(CRASH, giveUp.cause());
  }

  @Test
  void anExitOfAnEarlierStartOrOfARemovedChildIsIgnored() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, spec("a"), spec("b"));
    Exits exits = exits(table, 3);
    Child<?> a = table.find("a");
    exits.ended(a, CRASH);
    a.token++; // restarted since
    Child<?> b = table.find("b");
    exits.ended(b, CRASH);
    table.remove(b);
    assertNull(exits.decideNext());
    assertNull(exits.decideNext());
  }

  @Test
  void aFailedRestartIsDecidedFirst() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, spec("a"), spec("b"));
    Exits exits = exits(table, 0);
    exits.ended(table.find("a"), CRASH);
    exits.restartFailed(table.find("b"), CRASH);
    assertTrue(((Exits.GiveUp) exits.decideNext()).reason().contains("child 'b'"));
    exits.clear();
    assertTrue(exits.isEmpty());
  }
}
