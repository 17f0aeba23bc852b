package io.snakepit.actors.supervision;

import static io.snakepit.actors.supervision.ChildTableTest.run;
import static io.snakepit.actors.supervision.ChildTableTest.spec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestInbox;
import io.snakepit.actors.supervision.Supervisor.Reply;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobTest {

  private static Child<?> child(String id) {
    return new Child<>(id, spec(id), null);
  }

  /** The job's steps as "start a" and "stop b c" lines. */
  private static List<String> steps(Job job) {
    List<String> lines = new ArrayList<>();
    for (Job.Step step : job.steps()) {
      if (step instanceof Job.StartStep start) {
        lines.add("start " + start.child().id);
      } else if (step instanceof Job.StopStep stop) {
        lines.add("stop " + String.join(" ", stop.children().stream().map(c -> c.id).toList()));
      }
    }
    return lines;
  }

  @Test
  void initialJobStartsEveryChildInOrder() {
    assertEquals(List.of("start a", "start b", "start c"),
        steps(Job.initial(List.of(child("a"), child("b"), child("c")))));
  }

  @Test
  void restartStopsTheRunningInReverseThenStartsTheWantedInOrder() {
    Child<?> a = child("a");
    Child<?> b = child("b");
    Child<?> c = child("c");
    run(a);
    run(c);
    b.wanted = true; // b ended and is to be restarted; it has no actor to stop
    assertEquals(List.of("stop c", "stop a", "start a", "start b", "start c"), steps(Job.restart(b, List.of(a, b, c))));
  }

  @Test
  void restartStopsATemporaryMemberAndDoesNotStartItAgain() {
    Child<?> temp = new Child<>("t", spec("t").withRestart(Restart.TEMPORARY), null);
    Child<?> b = child("b");
    run(temp);
    b.wanted = true;
    assertEquals(List.of("stop t", "start b"), steps(Job.restart(b, List.of(temp, b))));
  }

  @Test
  void restartLeavesATerminatedMemberDown() {
    Child<?> a = child("a");
    Child<?> b = child("b");
    b.wanted = true;
    assertEquals(List.of("start b"), steps(Job.restart(b, List.of(a, b))));
  }

  @Test
  void shutdownStopsOneAtATimeInReverseOrderOrAllAtOnce() {
    List<Child<?>> running = List.of(child("a"), child("b"), child("c"));
    assertEquals(List.of("stop c", "stop b", "stop a"), steps(Job.shutdown(running, false)));
    assertEquals(List.of("stop a b c"), steps(Job.shutdown(running, true)));
    assertEquals(List.of(), steps(Job.shutdown(List.of(), true)));
    SupervisorFailedException failure = new SupervisorFailedException("gave up", null);
    Job escalate = Job.escalate(running, false, failure);
    assertEquals(Job.Kind.ESCALATE, escalate.kind());
    assertSame(failure, escalate.failure());
    assertEquals(List.of("stop c", "stop b", "stop a"), steps(escalate));
  }

  @Test
  void aStepWaitsUntilItsChildHasStartedOrEveryChildHasStopped() {
    Child<?> a = child("a");
    Child<?> b = child("b");
    run(a);
    run(b);
    a.token = 7;
    Job job = Job.shutdown(List.of(a, b), true);
    assertInstanceOf(Job.StopStep.class, job.next());
    job.stopBegun(a);
    job.stopBegun(b);
    assertSame(a, job.stopping(7));
    assertNull(job.stopping(8));
    job.stopEnded(a);
    assertTrue(job.waiting());
    job.stopEnded(b);
    assertFalse(job.waiting());
    assertNull(job.next());

    a.state = Child.State.STARTING;
    job.startBegun(a);
    assertTrue(job.waiting());
    assertNull(job.started(6)); // the report of an earlier start
    assertTrue(job.waiting());
    assertSame(a, job.started(7));
    assertFalse(job.waiting());
    job.startBegun(b);
    job.startEnded();
    assertFalse(job.waiting());
  }

  @Test
  void aRequestsJobAnswersWhoAsked() {
    TestInbox<Reply> inbox = TestInbox.create();
    Child<?> a = child("a");
    run(a);
    Job.start(Job.Kind.START_CHILD, a, inbox.getRef()).answer();
    assertEquals(new Supervisor.Started("a", a.last), inbox.receiveMessage());
    Job.terminate(a, inbox.getRef()).answer();
    assertEquals(new Supervisor.Ok("a"), inbox.receiveMessage());
    RuntimeException cause = new RuntimeException("no start");
    Job.start(Job.Kind.RESTART_CHILD, a, inbox.getRef()).answer(cause);
    assertEquals(new Supervisor.Failed("a", cause), inbox.receiveMessage());
    Job.restart(a, List.of(a)).answer(cause);
    assertFalse(inbox.hasMessages());
  }
}
