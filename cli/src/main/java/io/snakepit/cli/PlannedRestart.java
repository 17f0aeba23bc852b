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

  private final AtomicBoolean signalled = new AtomicBoolean();
  private final AtomicBoolean begun = new AtomicBoolean();
  private volatile Runnable detach;

  private PlannedRestart() {}

  /**
   * Takes SIGUSR2 from now on, before the node is ready: a signal that comes early is kept, and acted on once
   * {@link #arm} is called (the node is ready); a second signal changes nothing. A node whose start fails ignores it.
   */
  static PlannedRestart install() {
    PlannedRestart restart = new PlannedRestart();
    Signal.handle(new Signal(SIGNAL), sig -> {
      if (restart.signalled.compareAndSet(false, true) && restart.detach == null) {
        System.out.println("detaching: asked before the node is ready; done once it is");
        System.out.flush();
      }
      restart.begin();
    });
    return restart;
  }

  /** The node is ready: a signal detaches its workers and stops it (at once if one came already). */
  void arm(ActorSystem<?> system, Gateway gateway, Duration window) {
    detach = () -> run(system, gateway, window);
    begin();
  }

  /** Starts the detach once both the signal and the ready node are there, once. */
  private void begin() {
    Runnable now = detach;
    if (now != null && signalled.get() && begun.compareAndSet(false, true)) {
      Thread t = new Thread(now, "snakepit-detach");
      t.setDaemon(true);
      t.start();
    }
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
