package io.snakepit.actors.pool;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import io.snakepit.actors.supervision.Supervisor;
import io.snakepit.actors.worker.Adoption;
import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.worker.WorkerActor;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Starts, watches and stops the slots' workers under the pool's worker supervisor, and times their restarts. It runs
 * on the pool actor's context (asks, watches and timers answer to the pool), so the actor routes their replies here.
 */
final class SlotWorkers {

  private final ActorContext<PoolActor.Command> context;
  private final TimerScheduler<PoolActor.Command> timers;
  private final PoolSettings settings;
  private final PoolRuntime runtime;
  private final Slots slots;
  private final ActorRef<WorkerActor.Event> events;
  private final Map<String, ActorRef<WorkerActor.Command>> workers = new HashMap<>();
  private final StartGate gate;
  private ActorRef<Supervisor.Command> supervisor;
  /** Workers adopted after a planned restart, by slot index, until their slots' first spawn takes them. */
  private final Map<Integer, Adoption> adopted = new HashMap<>();
  /** The ids of the adopted workers whose actors started and are not ready yet. */
  private final Set<String> adopting = new HashSet<>();
  /** The pool is ending (failed, or stopping): no start is asked for any more. */
  private boolean ending;

  SlotWorkers(ActorContext<PoolActor.Command> context, TimerScheduler<PoolActor.Command> timers,
      PoolSettings settings, PoolRuntime runtime, Slots slots, ActorRef<WorkerActor.Event> events) {
    this.context = context;
    this.timers = timers;
    this.settings = settings;
    this.runtime = runtime;
    this.slots = slots;
    this.events = events;
    this.gate = new StartGate(settings.startConcurrency());
  }

  /** The pool's worker supervisor is up (again): workers start under it. */
  void supervisorUp(ActorRef<Supervisor.Command> workers) {
    supervisor = workers;
    context.watchWith(workers, new PoolActor.WorkersGone(workers));
    admitWaiting();
  }

  /**
   * A worker supervisor ended; if it was the current one, spawns wait for the next (its restart announces it). A
   * start asked of it and not answered yet will not be (an ask to an actor that ended times out): such a slot's
   * worker counts as gone now, or a stopping pool would wait for it until its own shutdown timeout.
   */
  void supervisorGone(ActorRef<Supervisor.Command> workers) {
    if (workers.equals(supervisor)) {
      supervisor = null;
      for (Slot slot : slots) {
        if (slot.worker() == null && (slot.state() == Slot.State.STARTING || slot.state() == Slot.State.STOPPING)) {
          context.getSelf().tell(new PoolActor.WorkerGone(slot.workerId()));
        }
      }
    }
  }

  boolean supervisorUp() {
    return supervisor != null;
  }

  /** {@code adoption} becomes the worker of slot {@code index} at its first spawn, instead of a fresh one. */
  void adoptAt(int index, Adoption adoption) {
    Adoption earlier = adopted.put(index, adoption);
    if (earlier != null) {
      earlier.abandon();
    }
  }

  /** Whether {@code workerId} is an adopted worker (asked once, as it becomes ready). */
  boolean wasAdopted(String workerId) {
    return adopting.remove(workerId);
  }

  /** Lets go of the adopted workers no slot took (the pool ends first): each shim then stops its tree. */
  void abandonAdopted() {
    adopted.values().forEach(Adoption::abandon);
    adopted.clear();
  }

  /**
   * A fresh worker in {@code slot}, asked of the worker supervisor once its turn comes (start-concurrency) and the
   * supervisor is there.
   */
  void spawn(Slot slot) {
    Adoption adoption = adopted.remove(slot.index);
    if (adoption != null && supervisor != null && !slot.retiring()) {
      String workerId = adoption.launch().workerId();
      slots.adopt(slot, workerId, Adoption.slotAndGeneration(workerId)[1]);
      adopting.add(workerId);
      // No turn to wait for: nothing starts, the worker is checked and routed.
      context.ask(Supervisor.Reply.class, supervisor, Duration.ofSeconds(30),
          replyTo -> new Supervisor.StartFromTemplate(new PoolActor.WorkerStart(adoption.launch(), events, adoption),
              replyTo),
          (reply, error) -> new PoolActor.WorkerStartReply(workerId, reply, error));
      return;
    }
    if (adoption != null) {
      adoption.abandon();
    }
    String workerId = slots.spawn(slot, supervisor != null);
    if (supervisor == null) {
      return;
    }
    if (!gate.enter(workerId)) {
      slot.queue();
      gate.await(slot, workerId);
      return;
    }
    launch(workerId);
  }

  /** The worker {@code workerId} is no longer starting (ready, failed, or ended): the next one in line starts. */
  void startEnded(String workerId) {
    if (gate.leave(workerId)) {
      admitWaiting();
    }
  }

  /** Starts the workers waiting their turn while there is room (and a supervisor to start them, and a pool). */
  private void admitWaiting() {
    for (Slot next; supervisor != null && !ending && (next = gate.next()) != null; ) {
      next.admit();
      launch(next.workerId());
    }
  }

  private void launch(String workerId) {
    Slot slot = slots.current(workerId);
    Launch launch = runtime.launch(settings, workerId).withRestoreState(slot == null ? null : slot.adapterState());
    context.ask(Supervisor.Reply.class, supervisor, Duration.ofSeconds(30),
        replyTo -> new Supervisor.StartFromTemplate(new PoolActor.WorkerStart(launch, events), replyTo),
        (reply, error) -> new PoolActor.WorkerStartReply(workerId, reply, error));
  }

  /** The worker's actor is known: watch it, and pass on a stop asked for before it was. */
  void attach(Slot slot, ActorRef<WorkerActor.Command> ref) {
    if (slot.attach(ref)) {
      workers.put(slot.workerId(), ref);
      context.watchWith(ref, new PoolActor.WorkerGone(slot.workerId()));
      if (slot.state() == Slot.State.STOPPING) {
        ref.tell(WorkerActor.Stop.INSTANCE);
      }
    }
  }

  /** The worker reported its exit: nothing more goes to it from here on, so it may end. */
  void dispose(String workerId) {
    ActorRef<WorkerActor.Command> ref = workers.get(workerId);
    if (ref != null) {
      ref.tell(WorkerActor.Dispose.INSTANCE); // messages to one actor keep their order
    }
  }

  /** The worker's actor ended; returns its slot if it was the slot's current worker, now marked ended. */
  Slot ended(String workerId) {
    workers.remove(workerId);
    startEnded(workerId);
    Slot slot = slots.forget(workerId);
    if (slot != null) {
      slot.ended(respawnPending(slot));
    }
    return slot;
  }

  /** Stops the slot's worker (a recycled one). */
  void stop(Slot slot) {
    slot.worker().tell(WorkerActor.Stop.INSTANCE);
  }

  /** Stops every worker there is, or will be once its actor is known; workers not asked for yet are not started. */
  void stopAll() {
    ending = true;
    for (Slot slot : slots) {
      if (slot.alive()) {
        if (slot.worker() != null) {
          stop(slot);
        }
        slot.stop();
      }
    }
  }

  /** A fresh worker in {@code slot} after {@code delay}. */
  void respawnLater(Slot slot, Duration delay) {
    timers.startSingleTimer(respawnKey(slot), new PoolActor.Respawn(slot.index), delay);
  }

  /** No respawn of {@code slot} after all (a resize retired it). */
  void cancelRespawn(Slot slot) {
    timers.cancel(respawnKey(slot));
  }

  boolean respawnPending(Slot slot) {
    return timers.isTimerActive(respawnKey(slot));
  }

  private static String respawnKey(Slot slot) {
    return "respawn-" + slot.index;
  }
}
