package io.snakepit.actors.supervision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.Done;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.ChildFailed;
import akka.actor.typed.PostStop;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.Behaviors;
import io.snakepit.actors.supervision.Supervisor.Command;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The OTP supervisor semantics, one behaviour per test. Children report their lifecycle to one probe ("start a#2" from
 * their setup, "asked a#2" when they get their stop message and do not stop at once, "stop a#2" from PostStop), so
 * each test asserts the exact order in which things happened.
 */
class SupervisorTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Duration LONG = Duration.ofMinutes(1);

  private static final ActorTestKit testKit = ActorTestKit.create();

  private TestProbe<String> events;
  private final Map<String, AtomicInteger> generations = new HashMap<>();

  @AfterAll
  static void shutdownTestKit() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void newProbe() {
    events = testKit.createTestProbe();
    generations.clear();
  }

  // ---- restart types ----

  @Test
  void permanentChildIsRestartedAfterNormalExit() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"));
    expect("start a#1");

    ref(sup, "a").tell(Probed.Exit.INSTANCE);
    expect("stop a#1", "start a#2");

    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#2", "start a#3");
    assertEquals(ChildInfo.Status.RUNNING, info(sup, "a").status());
  }

  @Test
  void transientChildIsRestartedOnlyAfterAbnormalExit() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("t").withRestart(Restart.TRANSIENT));
    expect("start t#1");

    ref(sup, "t").tell(Probed.Crash.INSTANCE);
    expect("stop t#1", "start t#2");

    ref(sup, "t").tell(Probed.Exit.INSTANCE);
    expect("stop t#2");
    // Had it been restarted, the restart would have happened while the supervisor handled the exit.
    events.awaitAssert(TIMEOUT, () -> {
      ChildInfo t = info(sup, "t");
      assertEquals(ChildInfo.Status.UNDEFINED, t.status());
      assertTrue(t.child().isEmpty());
      return t;
    });
    events.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void temporaryChildIsNeverRestarted() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("x").withRestart(Restart.TEMPORARY), child("y"));
    expect("start x#1", "start y#1");

    ref(sup, "x").tell(Probed.Crash.INSTANCE);
    expect("stop x#1");
    events.awaitAssert(TIMEOUT, () -> {
      assertEquals(List.of("y"), ids(sup));
      return null;
    });
    events.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void temporaryChildIsNotRestartedWithItsSiblings() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ALL, child("x").withRestart(Restart.TEMPORARY), child("y"));
    expect("start x#1", "start y#1");

    ref(sup, "y").tell(Probed.Crash.INSTANCE);
    expect("stop y#1", "stop x#1", "start y#2");
    assertEquals(List.of("y"), ids(sup));
  }

  // ---- strategies ----

  @Test
  void oneForOneRestartsOnlyThatChild() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"), child("b"), child("c"));
    expect("start a#1", "start b#1", "start c#1");
    ActorRef<Probed.Msg> a = ref(sup, "a");
    ActorRef<Probed.Msg> c = ref(sup, "c");

    ref(sup, "b").tell(Probed.Crash.INSTANCE);
    expect("stop b#1", "start b#2");
    assertEquals(a, ref(sup, "a"));
    assertEquals(c, ref(sup, "c"));
    events.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void oneForAllRestartsAllSiblings() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ALL, child("a"), child("b"), child("c"));
    expect("start a#1", "start b#1", "start c#1");

    ref(sup, "b").tell(Probed.Crash.INSTANCE);
    expect("stop b#1", "stop c#1", "stop a#1", "start a#2", "start b#2", "start c#2");
  }

  @Test
  void restForOneRestartsTheLaterOnes() {
    ActorRef<Command> sup = spawn(Strategy.REST_FOR_ONE, child("a"), child("b"), child("c"), child("d"));
    expect("start a#1", "start b#1", "start c#1", "start d#1");
    ActorRef<Probed.Msg> a = ref(sup, "a");

    ref(sup, "b").tell(Probed.Crash.INSTANCE);
    expect("stop b#1", "stop d#1", "stop c#1", "start b#2", "start c#2", "start d#2");
    assertEquals(a, ref(sup, "a"));
  }

  @Test
  void groupRestartLeavesATerminatedChildDown() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ALL, child("a"), child("b"), child("c"));
    expect("start a#1", "start b#1", "start c#1");
    assertEquals(new Supervisor.Ok("c"), request(sup, replyTo -> new Supervisor.TerminateChild("c", replyTo)));
    expect("stop c#1");

    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#1", "stop b#1", "start a#2", "start b#2");
    assertEquals(ChildInfo.Status.UNDEFINED, info(sup, "c").status());
  }

  // ---- restart intensity ----

  @Test
  void exceedingTheIntensityEscalates() {
    TestProbe<ActorRef<Command>> spawned = testKit.createTestProbe();
    testKit.spawn(watcher(Supervisor.create(Strategy.ONE_FOR_ONE, 2, LONG, List.of(child("a"), child("b"))),
        spawned.ref()));
    ActorRef<Command> sup = spawned.receiveMessage(TIMEOUT);
    expect("start a#1", "start b#1");

    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#1", "start a#2");
    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#2", "start a#3");
    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#3", "stop b#1");
    String failed = events.receiveMessage(TIMEOUT);
    assertTrue(failed.startsWith("supervisor failed: SupervisorFailedException"), failed);
    assertTrue(failed.contains("more than 2 restarts within PT1M"), failed);
    assertTrue(failed.contains("child 'a' failed"), failed);
  }

  @Test
  void restartsOutsideThePeriodAreForgotten() {
    AtomicLong nanos = new AtomicLong();
    TestProbe<ActorRef<Command>> spawned = testKit.createTestProbe();
    testKit.spawn(watcher(Supervisor.create(Strategy.ONE_FOR_ONE, 1, Duration.ofSeconds(10), List.of(child("a")),
        nanos::get), spawned.ref()));
    ActorRef<Command> sup = spawned.receiveMessage(TIMEOUT);
    expect("start a#1");

    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#1", "start a#2");
    nanos.addAndGet(Duration.ofSeconds(11).toNanos());
    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#2", "start a#3");
    ref(sup, "a").tell(Probed.Crash.INSTANCE);
    expect("stop a#3");
    assertTrue(events.receiveMessage(TIMEOUT).startsWith("supervisor failed: SupervisorFailedException"));
  }

  @Test
  void aRestartThatCannotStartCountsTowardTheIntensity() {
    AtomicInteger starts = new AtomicInteger();
    ChildSpec<Probed.Msg> once = ChildSpec.worker("once", () -> {
      if (starts.incrementAndGet() > 1) {
        throw new IllegalStateException("start #" + starts.get() + " refused");
      }
      return Probed.create("once", 1, Probed.OnStop.GRACEFUL, events.ref());
    });
    TestProbe<ActorRef<Command>> spawned = testKit.createTestProbe();
    testKit.spawn(watcher(Supervisor.create(Strategy.ONE_FOR_ONE, 3, LONG, List.of(child("a"), once)),
        spawned.ref()));
    ActorRef<Command> sup = spawned.receiveMessage(TIMEOUT);
    expect("start a#1", "start once#1");

    ref(sup, "once").tell(Probed.Crash.INSTANCE);
    expect("stop once#1", "stop a#1");
    String failed = events.receiveMessage(TIMEOUT);
    assertTrue(failed.contains("more than 3 restarts"), failed);
    assertTrue(failed.contains("start #4 refused"), failed);
    assertEquals(4, starts.get());
  }

  // ---- start ----

  @Test
  void childrenStartInOrderEachAfterThePreviousHasStarted() throws InterruptedException {
    CountDownLatch release = new CountDownLatch(1);
    ChildSpec<Probed.Msg> slow = ChildSpec.worker("slow", () -> Behaviors.setup(ctx -> {
      events.ref().tell("setup slow");
      if (!release.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("the test never released the slow child");
      }
      return Probed.create("slow", 1, Probed.OnStop.GRACEFUL, events.ref());
    }));
    spawn(Strategy.ONE_FOR_ONE, child("a"), slow, child("b"));
    expect("start a#1", "setup slow");
    events.expectNoMessage(Duration.ofMillis(300));
    release.countDown();
    expect("start slow#1", "start b#1");
  }

  @Test
  void failedStartStopsTheStartedOnesAndFails() {
    ChildSpec<Probed.Msg> bad = ChildSpec.worker("bad", () -> Behaviors.setup(ctx -> {
      events.ref().tell("setup bad");
      throw new IllegalStateException("bad cannot start");
    }));
    TestProbe<ActorRef<Command>> spawned = testKit.createTestProbe();
    testKit.spawn(watcher(Supervisor.create(Strategy.ONE_FOR_ONE, 10, LONG,
        List.of(child("a"), child("b"), bad, child("d"))), spawned.ref()));
    spawned.receiveMessage(TIMEOUT);

    expect("start a#1", "start b#1", "setup bad", "stop b#1", "stop a#1");
    String failed = events.receiveMessage(TIMEOUT);
    assertTrue(failed.contains("could not start child 'bad'"), failed);
    assertTrue(failed.contains("bad cannot start"), failed);
    assertFalse(generations.containsKey("d"), "d must never be started");
  }

  @Test
  void aFactoryThatThrowsIsAFailedStart() {
    ChildSpec<Probed.Msg> bad = ChildSpec.worker("bad", () -> {
      throw new IllegalArgumentException("no behaviour for bad");
    });
    TestProbe<ActorRef<Command>> spawned = testKit.createTestProbe();
    testKit.spawn(watcher(Supervisor.create(Strategy.ONE_FOR_ALL, 10, LONG, List.of(child("a"), bad)),
        spawned.ref()));
    spawned.receiveMessage(TIMEOUT);

    expect("start a#1", "stop a#1");
    String failed = events.receiveMessage(TIMEOUT);
    assertTrue(failed.contains("could not start child 'bad'"), failed);
    assertTrue(failed.contains("no behaviour for bad"), failed);
  }

  // ---- shutdown ----

  @Test
  void shutdownGoesInReverseOrder() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"), child("b"), child("c"));
    expect("start a#1", "start b#1", "start c#1");
    TestProbe<Done> done = testKit.createTestProbe();

    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("stop c#1", "stop b#1", "stop a#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
    done.expectTerminated(sup, TIMEOUT);
  }

  @Test
  void shutdownTimeoutEndsInABrutalKill() {
    Duration grace = Duration.ofMillis(400);
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE,
        child("stubborn", Probed.OnStop.IGNORE).withShutdown(ShutdownSpec.timeout(grace)));
    expect("start stubborn#1");
    TestProbe<Done> done = testKit.createTestProbe();

    long sent = System.nanoTime();
    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("asked stubborn#1", "stop stubborn#1");
    long elapsed = System.nanoTime() - sent;
    assertTrue(elapsed >= grace.toNanos(), "killed after " + elapsed / 1_000_000 + " ms, before its grace");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void brutalKillSkipsTheStopMessage() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE,
        child("k", Probed.OnStop.IGNORE).withShutdown(ShutdownSpec.BRUTAL_KILL));
    expect("start k#1");
    TestProbe<Done> done = testKit.createTestProbe();

    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("stop k#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void infinityShutdownWaits() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"),
        child("slow", Probed.OnStop.HOLD).withShutdown(ShutdownSpec.INFINITY));
    expect("start a#1", "start slow#1");
    TestProbe<Done> done = testKit.createTestProbe();

    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("asked slow#1");
    done.expectNoMessage(Duration.ofMillis(1500));
    events.expectNoMessage(Duration.ofMillis(1));
    // Queries are answered while the supervisor waits; changes are refused once it is stopping.
    assertEquals(ChildInfo.Status.RUNNING, info(sup, "a").status());
    assertEquals(new Supervisor.Refused("b", Supervisor.Refusal.STOPPING),
        request(sup, replyTo -> new Supervisor.StartChild(child("b"), replyTo)));

    ref(sup, "slow").tell(Probed.Finish.INSTANCE);
    expect("stop slow#1", "stop a#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void aSupervisorStoppedFromOutsideStillAnswersShutdown() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE,
        child("slow", Probed.OnStop.HOLD).withShutdown(ShutdownSpec.INFINITY));
    expect("start slow#1");
    TestProbe<Done> done = testKit.createTestProbe();
    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("asked slow#1");

    // Akka stops the children itself, before the supervisor's PostStop, which answers the waiting Shutdown.
    testKit.stop(sup, TIMEOUT);
    expect("stop slow#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void treesStartDepthFirstAndStopInReverse() {
    ChildSpec<Command> sub = ChildSpec.supervisor("sub", Strategy.ONE_FOR_ONE, 3, LONG,
        List.of(child("b"), child("c")));
    ActorRef<Command> top = spawn(Strategy.ONE_FOR_ONE, child("a"), sub, child("d"));
    expect("start a#1", "start b#1", "start c#1", "start d#1");
    assertEquals(ChildType.SUPERVISOR, info(top, "sub").type());
    TestProbe<Done> done = testKit.createTestProbe();

    top.tell(new Supervisor.Shutdown(done.ref()));
    expect("stop d#1", "stop c#1", "stop b#1", "stop a#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void anEscalatingNestedSupervisorIsRestartedAsAFailedChild() {
    ChildSpec<Command> sub = ChildSpec.supervisor("sub", Strategy.ONE_FOR_ONE, 0, LONG, List.of(child("b")))
        .withRestart(Restart.TRANSIENT);
    ActorRef<Command> top = spawn(Strategy.ONE_FOR_ONE, child("a"), sub);
    expect("start a#1", "start b#1");
    ActorRef<Command> firstSub = info(top, "sub").child().orElseThrow().unsafeUpcast();

    ref(firstSub, "b").tell(Probed.Crash.INSTANCE);
    // Transient: restarted only because the nested supervisor's exit was abnormal.
    expect("stop b#1", "start b#2");
    events.awaitAssert(TIMEOUT, () -> {
      ChildInfo now = info(top, "sub");
      assertEquals(ChildInfo.Status.RUNNING, now.status());
      assertNotEquals(firstSub, now.child().orElseThrow());
      return now;
    });
  }

  // ---- dynamic children ----

  @Test
  void dynamicChildrenStartAndStopAtRunTime() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"));
    expect("start a#1");

    Supervisor.Reply started = request(sup, replyTo -> new Supervisor.StartChild(child("b"), replyTo));
    expect("start b#1");
    assertEquals(ref(sup, "b"), assertInstanceOf(Supervisor.Started.class, started).child());
    assertEquals(new Supervisor.Refused("b", Supervisor.Refusal.ALREADY_STARTED),
        request(sup, replyTo -> new Supervisor.StartChild(child("b"), replyTo)));
    assertEquals(new Supervisor.Refused("b", Supervisor.Refusal.RUNNING),
        request(sup, replyTo -> new Supervisor.DeleteChild("b", replyTo)));

    assertEquals(new Supervisor.Ok("b"), request(sup, replyTo -> new Supervisor.TerminateChild("b", replyTo)));
    expect("stop b#1");
    assertEquals(ChildInfo.Status.UNDEFINED, info(sup, "b").status());
    assertEquals(new Supervisor.Refused("b", Supervisor.Refusal.ALREADY_PRESENT),
        request(sup, replyTo -> new Supervisor.StartChild(child("b"), replyTo)));

    assertInstanceOf(Supervisor.Started.class, request(sup, replyTo -> new Supervisor.RestartChild("b", replyTo)));
    expect("start b#2");
    assertEquals(new Supervisor.Ok("b"), request(sup, replyTo -> new Supervisor.TerminateChild("b", replyTo)));
    expect("stop b#2");
    assertEquals(new Supervisor.Ok("b"), request(sup, replyTo -> new Supervisor.DeleteChild("b", replyTo)));
    assertEquals(List.of("a"), ids(sup));
    assertEquals(new Supervisor.Refused("b", Supervisor.Refusal.NOT_FOUND),
        request(sup, replyTo -> new Supervisor.TerminateChild("b", replyTo)));

    // A child added at run time is the last in start order, so the first to stop.
    request(sup, replyTo -> new Supervisor.StartChild(child("c"), replyTo));
    expect("start c#1");
    TestProbe<Done> done = testKit.createTestProbe();
    sup.tell(new Supervisor.Shutdown(done.ref()));
    expect("stop c#1", "stop a#1");
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  @Test
  void aDynamicChildThatFailsToStartIsNotKept() {
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"));
    expect("start a#1");
    ChildSpec<Probed.Msg> bad = ChildSpec.worker("bad", () -> Behaviors.setup(ctx -> {
      throw new IllegalStateException("bad cannot start");
    }));

    Supervisor.Reply reply = request(sup, replyTo -> new Supervisor.StartChild(bad, replyTo));
    Supervisor.Failed failed = assertInstanceOf(Supervisor.Failed.class, reply);
    assertEquals("bad", failed.id());
    assertEquals("bad cannot start", failed.cause().getMessage());
    assertEquals(List.of("a"), ids(sup));
  }

  @Test
  void simpleOneForOneStartsChildrenFromTheTemplate() {
    ChildSpec<Probed.Msg> template = ChildSpec.template("w", Integer.class,
        n -> Probed.create("w" + n, generation("w" + n), Probed.OnStop.GRACEFUL, events.ref()))
        .withStopMessage(Probed.Stop.INSTANCE);
    ActorRef<Command> sup = spawn(Strategy.SIMPLE_ONE_FOR_ONE, template);
    assertEquals(List.of(), ids(sup));

    assertEquals("w-1", started(request(sup, replyTo -> new Supervisor.StartFromTemplate(7, replyTo))));
    expect("start w7#1");
    assertEquals("w-2", started(request(sup, replyTo -> new Supervisor.StartFromTemplate(8, replyTo))));
    expect("start w8#1");
    assertEquals(List.of("w-1", "w-2"), ids(sup));

    // A restart uses the same argument and keeps the id.
    ref(sup, "w-1").tell(Probed.Crash.INSTANCE);
    expect("stop w7#1", "start w7#2");
    assertEquals(List.of("w-1", "w-2"), ids(sup));

    Supervisor.Failed wrongArgument = assertInstanceOf(Supervisor.Failed.class,
        request(sup, replyTo -> new Supervisor.StartFromTemplate("eight", replyTo)));
    assertTrue(wrongArgument.cause().getMessage().contains("takes a java.lang.Integer"), wrongArgument.toString());
    assertEquals(new Supervisor.Refused("w", Supervisor.Refusal.SIMPLE_ONE_FOR_ONE),
        request(sup, replyTo -> new Supervisor.StartChild(template, replyTo)));

    assertEquals(new Supervisor.Ok("w-2"), request(sup, replyTo -> new Supervisor.TerminateChild("w-2", replyTo)));
    expect("stop w8#1");
    assertEquals(List.of("w-1"), ids(sup));
  }

  @Test
  void simpleOneForOneStopsAllChildrenAtOnce() {
    ChildSpec<Probed.Msg> template = ChildSpec.template("w", Integer.class,
        n -> Probed.create("w" + n, 1, Probed.OnStop.IGNORE, events.ref()))
        .withStopMessage(Probed.Stop.INSTANCE)
        .withShutdown(ShutdownSpec.timeout(Duration.ofMillis(500)));
    ActorRef<Command> sup = spawn(Strategy.SIMPLE_ONE_FOR_ONE, template);
    for (int n = 1; n <= 3; n++) {
      int argument = n;
      started(request(sup, replyTo -> new Supervisor.StartFromTemplate(argument, replyTo)));
      expect("start w" + n + "#1");
    }
    TestProbe<Done> done = testKit.createTestProbe();

    sup.tell(new Supervisor.Shutdown(done.ref()));
    List<String> seen = events.receiveSeveralMessages(6, TIMEOUT);
    // One at a time would interleave asked and stop; all at once asks all three before the first kill.
    assertEquals(Set.of("asked w1#1", "asked w2#1", "asked w3#1"), Set.copyOf(seen.subList(0, 3)), seen.toString());
    assertEquals(Set.of("stop w1#1", "stop w2#1", "stop w3#1"), Set.copyOf(seen.subList(3, 6)), seen.toString());
    done.expectMessage(TIMEOUT, Done.getInstance());
  }

  // ---- queries ----

  @Test
  void whichChildrenAndCountChildren() {
    ChildSpec<Command> sub = ChildSpec.supervisor("sub", Strategy.ONE_FOR_ONE, 1, LONG, List.of());
    ActorRef<Command> sup = spawn(Strategy.ONE_FOR_ONE, child("a"), sub, child("b"));
    expect("start a#1", "start b#1");
    assertEquals(new Supervisor.Ok("b"), request(sup, replyTo -> new Supervisor.TerminateChild("b", replyTo)));
    expect("stop b#1");

    List<ChildInfo> children = which(sup);
    assertEquals(List.of("a", "sub", "b"), children.stream().map(ChildInfo::id).toList());
    assertEquals(List.of(ChildType.WORKER, ChildType.SUPERVISOR, ChildType.WORKER),
        children.stream().map(ChildInfo::type).toList());
    assertEquals(List.of(ChildInfo.Status.RUNNING, ChildInfo.Status.RUNNING, ChildInfo.Status.UNDEFINED),
        children.stream().map(ChildInfo::status).toList());
    assertTrue(children.get(0).child().isPresent());
    assertTrue(children.get(2).child().isEmpty());

    TestProbe<ChildCounts> counts = testKit.createTestProbe();
    sup.tell(new Supervisor.CountChildren(counts.ref()));
    assertEquals(new ChildCounts(3, 2, 1, 2), counts.receiveMessage(TIMEOUT));
  }

  // ---- fixtures ----

  /** A child that reports its lifecycle to the probe. */
  static final class Probed {
    interface Msg {}

    /** The stop message. */
    enum Stop implements Msg { INSTANCE }

    /** Fail with an exception: an abnormal exit. */
    enum Crash implements Msg { INSTANCE }

    /** Stop by returning Behaviors.stopped(): a normal exit. */
    enum Exit implements Msg { INSTANCE }

    /** End a stop that was held. */
    enum Finish implements Msg { INSTANCE }

    /** What the child does with its stop message. */
    enum OnStop { GRACEFUL, IGNORE, HOLD }

    static Behavior<Msg> create(String name, int generation, OnStop onStop, ActorRef<String> events) {
      String tag = name + "#" + generation;
      return Behaviors.setup(ctx -> {
        events.tell("start " + tag);
        return Behaviors.receive(Msg.class)
            .onMessageEquals(Stop.INSTANCE, () -> {
              if (onStop == OnStop.GRACEFUL) {
                return Behaviors.stopped();
              }
              events.tell("asked " + tag);
              return Behaviors.same();
            })
            .onMessageEquals(Crash.INSTANCE, () -> {
              throw new IllegalStateException("crash of " + tag + " (a test)");
            })
            .onMessageEquals(Exit.INSTANCE, Behaviors::stopped)
            .onMessageEquals(Finish.INSTANCE, Behaviors::stopped)
            .onSignal(PostStop.class, signal -> {
              events.tell("stop " + tag);
              return Behaviors.same();
            })
            .build();
      });
    }
  }

  private ChildSpec<Probed.Msg> child(String id) {
    return child(id, Probed.OnStop.GRACEFUL);
  }

  private ChildSpec<Probed.Msg> child(String id, Probed.OnStop onStop) {
    ActorRef<String> to = events.ref();
    return ChildSpec.worker(id, () -> Probed.create(id, generation(id), onStop, to))
        .withStopMessage(Probed.Stop.INSTANCE);
  }

  private int generation(String id) {
    synchronized (generations) {
      return generations.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    }
  }

  /** Spawns the supervisor as a child of a watcher that reports how it ended to the probe. */
  private Behavior<Void> watcher(Behavior<Command> supervisor, ActorRef<ActorRef<Command>> spawned) {
    ActorRef<String> to = events.ref();
    return Behaviors.setup(ctx -> {
      ActorRef<Command> sup = ctx.spawn(supervisor, "sup");
      ctx.watch(sup);
      spawned.tell(sup);
      return Behaviors.receive(Void.class)
          .onSignal(ChildFailed.class, failed -> {
            to.tell("supervisor failed: " + failed.getCause().getClass().getSimpleName() + ": "
                + failed.getCause().getMessage());
            return Behaviors.stopped();
          })
          .onSignal(Terminated.class, terminated -> {
            to.tell("supervisor stopped");
            return Behaviors.stopped();
          })
          .build();
    });
  }

  private ActorRef<Command> spawn(Strategy strategy, ChildSpec<?>... children) {
    return testKit.spawn(Supervisor.create(strategy, 3, LONG, List.of(children)));
  }

  private void expect(String... lines) {
    for (String line : lines) {
      events.expectMessage(TIMEOUT, line);
    }
  }

  private Supervisor.Reply request(ActorRef<Command> sup,
      java.util.function.Function<ActorRef<Supervisor.Reply>, Command> request) {
    TestProbe<Supervisor.Reply> replies = testKit.createTestProbe();
    sup.tell(request.apply(replies.ref()));
    return replies.receiveMessage(TIMEOUT);
  }

  private static String started(Supervisor.Reply reply) {
    return assertInstanceOf(Supervisor.Started.class, reply, reply.toString()).id();
  }

  private List<ChildInfo> which(ActorRef<Command> sup) {
    TestProbe<Supervisor.Children> probe = testKit.createTestProbe();
    sup.tell(new Supervisor.WhichChildren(probe.ref()));
    return probe.receiveMessage(TIMEOUT).children();
  }

  private List<String> ids(ActorRef<Command> sup) {
    return which(sup).stream().map(ChildInfo::id).collect(Collectors.toList());
  }

  private ChildInfo info(ActorRef<Command> sup, String id) {
    return which(sup).stream().filter(c -> c.id().equals(id)).findFirst()
        .orElseThrow(() -> new AssertionError("no child '" + id + "' in " + which(sup)));
  }

  private <T> ActorRef<T> ref(ActorRef<Command> sup, String id) {
    return info(sup, id).child().orElseThrow(() -> new AssertionError("child '" + id + "' is not running"))
        .unsafeUpcast();
  }
}
