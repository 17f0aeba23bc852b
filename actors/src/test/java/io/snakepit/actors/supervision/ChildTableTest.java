package io.snakepit.actors.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestInbox;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.actors.supervision.Supervisor.Refusal;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChildTableTest {

  static ChildSpec<Object> spec(String id) {
    return ChildSpec.worker(id, Behaviors::empty);
  }

  /** Marks a child as running, with an actor of its own. */
  static void run(Child<?> child) {
    child.ref = TestInbox.create().getRef().unsafeUpcast();
    child.started();
  }

  private static ChildTable table(Strategy strategy, String... ids) {
    return new ChildTable(strategy, Arrays.stream(ids).<ChildSpec<?>>map(ChildTableTest::spec).toList());
  }

  private static List<String> ids(List<Child<?>> children) {
    return children.stream().map(child -> child.id).toList();
  }

  @Test
  void restartGroupFollowsTheStrategyInStartOrder() {
    for (Strategy strategy : List.of(Strategy.ONE_FOR_ONE, Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE)) {
      ChildTable table = table(strategy, "a", "b", "c");
      List<String> group = ids(table.restartGroup(table.find("b")));
      assertEquals(switch (strategy) {
        case ONE_FOR_ONE -> List.of("b");
        case ONE_FOR_ALL -> List.of("a", "b", "c");
        default -> List.of("b", "c");
      }, group, strategy.toString());
    }
  }

  @Test
  void runningListsOnlyChildrenWithAnActorInStartOrder() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, "a", "b", "c");
    run(table.find("c"));
    run(table.find("a"));
    assertEquals(List.of("a", "c"), ids(table.running()));
  }

  @Test
  void addingAnIdThatIsTakenIsRefusedByWhetherItRuns() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, "a", "b");
    run(table.find("a"));
    assertEquals(Refusal.ALREADY_STARTED, table.refusalToAdd("a"));
    assertEquals(Refusal.ALREADY_PRESENT, table.refusalToAdd("b"));
    assertNull(table.refusalToAdd("c"));
    assertEquals(Refusal.SIMPLE_ONE_FOR_ONE, table(Strategy.SIMPLE_ONE_FOR_ONE, "w").refusalToAdd("c"));
  }

  @Test
  void restartOrDeleteNeedsAKeptStoppedChild() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, "running", "restarting", "stopped");
    run(table.find("running"));
    table.find("restarting").wanted = true;
    assertEquals(Refusal.RUNNING, table.refusalForStopped(table.find("running")));
    assertEquals(Refusal.RESTARTING, table.refusalForStopped(table.find("restarting")));
    assertNull(table.refusalForStopped(table.find("stopped")));
    assertEquals(Refusal.NOT_FOUND, table.refusalForStopped(null));
  }

  @Test
  void templateChildrenAreNumberedAndForgottenWhenTheyEnd() {
    ChildTable table = table(Strategy.SIMPLE_ONE_FOR_ONE, "w");
    assertEquals(0, table.size());
    Child<?> first = table.addFromTemplate("x");
    Child<?> second = table.addFromTemplate("y");
    assertEquals(List.of("w-1", "w-2"), ids(table.inStartOrder()));
    assertEquals("y", second.argument);
    table.forget(first);
    assertEquals(List.of("w-2"), ids(table.inStartOrder()));
  }

  @Test
  void onlyTemporarySpecsAreForgottenOutsideSimpleOneForOne() {
    ChildTable table = new ChildTable(Strategy.ONE_FOR_ONE,
        List.of(spec("kept"), spec("temp").withRestart(Restart.TEMPORARY)));
    table.forget(table.find("kept"));
    table.forget(table.find("temp"));
    assertEquals(List.of("kept"), ids(table.inStartOrder()));
  }

  @Test
  void anEndedActorFindsItsChildOnce() {
    ChildTable table = table(Strategy.ONE_FOR_ONE, "a");
    Child<?> a = table.find("a");
    run(a);
    table.spawned(a);
    assertSame(a, table.ended(a.ref));
    assertNull(table.ended(a.ref));
  }

  @Test
  void countsAndInfosReportEveryChild() {
    ChildTable table = new ChildTable(Strategy.ONE_FOR_ONE, List.of(spec("a"), spec("b"),
        ChildSpec.supervisor("s", Strategy.ONE_FOR_ONE, 1, Duration.ofSeconds(1), List.of())));
    run(table.find("a"));
    table.find("b").wanted = true;
    assertEquals(new ChildCounts(3, 1, 1, 2), table.counts());
    assertEquals(List.of(ChildInfo.Status.RUNNING, ChildInfo.Status.RESTARTING, ChildInfo.Status.UNDEFINED),
        table.infos().stream().map(ChildInfo::status).toList());
    assertTrue(table.infos().get(0).child().isPresent());
  }

  @Test
  void duplicateIdsAndASimpleOneForOneWithoutOneTemplateAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> ChildTable.check(Strategy.ONE_FOR_ONE,
        List.of(spec("a"), spec("a"))));
    assertThrows(IllegalArgumentException.class, () -> ChildTable.check(Strategy.SIMPLE_ONE_FOR_ONE,
        List.of(spec("a"), spec("b"))));
    assertThrows(IllegalArgumentException.class, () -> ChildTable.check(Strategy.SIMPLE_ONE_FOR_ONE, List.of()));
  }
}
