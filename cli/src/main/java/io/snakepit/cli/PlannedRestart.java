package io.snakepit.cli;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import io.snakepit.actors.Node;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * SIGUSR2 to a serving node (what {@code snakepit detach} sends): a planned restart, see docs/ADOPTION.md. The node
 * takes no new calls, lets its workers finish the calls in flight, leaves them running for the next node for the
 * adoption window, and exits 0. Only this signal detaches: a node killed any other way takes its trees down.
 */
final class PlannedRestart {
  /** The signal's name for {@link Signal}. */
  static final String SIGNAL = "USR2";
  /** SIGUSR2's number on Linux (x86_64 and aarch64). */
  static final int SIGNAL_NUMBER = 12;

  /** Reasons a node's shutdown gives: this one is a planned restart. */
  static final class Reason implements CoordinatedShutdown.Reason {
    static final Reason INSTANCE = new Reason();

    private Reason() {}
  }

  private PlannedRestart() {}

  /** From now on, SIGUSR2 detaches this node's workers and stops it; a second signal changes nothing. */
  static void onSignal(ActorSystem<?> system, Gateway gateway, Duration window) {
    AtomicBoolean begun = new AtomicBoolean();
    Signal.handle(new Signal(SIGNAL), sig -> {
      if (begun.compareAndSet(false, true)) {
        Thread t = new Thread(() -> run(system, gateway, window), "snakepit-detach");
        t.setDaemon(true);
        t.start();
      }
    });
  }

  private static void run(ActorSystem<?> system, Gateway gateway, Duration window) {
    System.out.println("detaching: a planned restart; no new calls, the calls in flight finish, then every worker"
        + " waits " + window.toMillis() + " ms for the next node");
    System.out.flush();
    gateway.stopTakingCalls();
    List<WorkerActor.DetachOutcome> outcomes;
    try {
      outcomes = Node.get(system).detach(window).toCompletableFuture().get(10, TimeUnit.MINUTES);
    } catch (Exception e) {
      System.err.println("snakepit: the detach failed, the workers stop with the node: " + e);
      outcomes = List.of();
    }
    long kept = outcomes.stream().filter(WorkerActor.DetachOutcome::kept).count();
    for (WorkerActor.DetachOutcome o : outcomes) {
      if (!o.kept()) {
        System.err.println("snakepit: worker " + o.workerId() + " was not detached, it stops with the node: "
            + o.detail());
      }
    }
    System.out.println("detached: " + kept + " of " + outcomes.size() + " workers wait " + window.toMillis()
        + " ms for the next node with this data directory and instance");
    System.out.flush();
    CoordinatedShutdown.get(system).run(Reason.INSTANCE);
  }
}
