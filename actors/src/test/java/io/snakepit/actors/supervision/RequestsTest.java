package io.snakepit.actors.supervision;

import static io.snakepit.actors.supervision.ChildTableTest.run;
import static io.snakepit.actors.supervision.ChildTableTest.spec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import akka.Done;
import akka.actor.testkit.typed.javadsl.TestInbox;
import io.snakepit.actors.supervision.Supervisor.Refusal;
import io.snakepit.actors.supervision.Supervisor.Refused;
import io.snakepit.actors.supervision.Supervisor.Reply;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestsTest {

  private final TestInbox<Reply> replies = TestInbox.create();

  @Test
  void startChildBecomesAJobOrIsRefusedAtOnce() {
    ChildTable table = new ChildTable(Strategy.ONE_FOR_ONE, List.of(spec("a")));
    Requests requests = new Requests(table);
    requests.add(new Supervisor.StartChild(spec("a"), replies.getRef()));
    requests.add(new Supervisor.StartChild(spec("b"), replies.getRef()));
    assertNull(requests.performNext());
    assertEquals(new Refused("a", Refusal.ALREADY_PRESENT), replies.receiveMessage());
    Job job = requests.performNext();
    assertEquals(Job.Kind.START_CHILD, job.kind());
    assertSame(table.find("b"), job.subject());
  }

  @Test
  void deleteAndRestartActOnlyOnAKeptStoppedChild() {
    ChildTable table = new ChildTable(Strategy.ONE_FOR_ONE, List.of(spec("a"), spec("b")));
    run(table.find("a"));
    Requests requests = new Requests(table);
    requests.add(new Supervisor.DeleteChild("a", replies.getRef()));
    requests.add(new Supervisor.DeleteChild("b", replies.getRef()));
    requests.add(new Supervisor.RestartChild("b", replies.getRef()));
    assertNull(requests.performNext());
    assertEquals(new Refused("a", Refusal.RUNNING), replies.receiveMessage());
    assertNull(requests.performNext());
    assertEquals(new Supervisor.Ok("b"), replies.receiveMessage());
    assertNull(requests.performNext());
    assertEquals(new Refused("b", Refusal.NOT_FOUND), replies.receiveMessage());
  }

  @Test
  void terminateStopsARunningChildAndOnlyMarksAStoppedOne() {
    ChildTable table = new ChildTable(Strategy.ONE_FOR_ONE, List.of(spec("a"), spec("b")));
    run(table.find("a"));
    table.find("b").wanted = true;
    Requests requests = new Requests(table);
    requests.add(new Supervisor.TerminateChild("a", replies.getRef()));
    requests.add(new Supervisor.TerminateChild("b", replies.getRef()));
    assertEquals(Job.Kind.TERMINATE_CHILD, requests.performNext().kind());
    assertFalse(table.find("a").wanted);
    assertNull(requests.performNext());
    assertEquals(new Supervisor.Ok("b"), replies.receiveMessage());
    assertFalse(table.find("b").wanted);
  }

  @Test
  void shutdownRefusesWhatWaitsAndAnswersEveryShutdownOnceStopped() {
    ChildTable table = new ChildTable(Strategy.SIMPLE_ONE_FOR_ONE, List.of(spec("w")));
    Requests requests = new Requests(table);
    TestInbox<Done> first = TestInbox.create();
    TestInbox<Done> second = TestInbox.create();
    requests.add(new Supervisor.Shutdown(first.getRef()));
    requests.add(new Supervisor.StartFromTemplate("x", replies.getRef()));
    requests.add(new Supervisor.Shutdown(second.getRef()));
    assertEquals(Job.Kind.SHUTDOWN, requests.performNext().kind());
    assertEquals(new Refused("w", Refusal.STOPPING), replies.receiveMessage());
    assertFalse(first.hasMessages());
    requests.answerStopWaiters();
    assertEquals(Done.getInstance(), first.receiveMessage());
    assertEquals(Done.getInstance(), second.receiveMessage());
  }

  @Test
  void startFromTemplateNeedsATemplate() {
    Requests requests = new Requests(new ChildTable(Strategy.ONE_FOR_ONE, List.of()));
    requests.add(new Supervisor.StartFromTemplate("x", replies.getRef()));
    assertNull(requests.performNext());
    assertEquals(new Refused(null, Refusal.NO_TEMPLATE), replies.receiveMessage());
  }
}
