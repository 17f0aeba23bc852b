package io.snakepit.actors.pool;

import io.snakepit.actors.worker.Job;
import io.snakepit.actors.worker.WorkerPort;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Room on ready workers that the pool's actor lends to its callers, so that a one-result call on a pool with a free
 * worker reaches it without an actor message: the caller takes a permit with one compare-and-set and starts the call
 * on the worker's {@link WorkerPort} from its own thread, and the thread that reads the answer gives the permit back.
 * On two cores each actor message is a dispatcher wake-up taken from the Python workers (docs/PERFORMANCE.md).
 *
 * <p>The actor stays the one that decides. It lends only while the circuit is closed and no call waits in its queue,
 * and takes the room back ({@link Lease#revoke}) before anything that must see every call: a call that reaches it
 * (queued, of a session, or one the lane could not place), a drain, a stop, a resize, a circuit that opens. A permit in
 * use when its lease is revoked comes back the long way, as the worker's {@code Idle}. A call that finds no permit
 * goes to the actor as before, so the lane never refuses a call.
 *
 * <p>One lane per pool, kept by its {@link PoolLink}: a restarted coordinator lends through the same lane, after its
 * predecessor revoked what it lent as it stopped.
 */
public final class Lane {
  private static final Lease[] NONE = new Lease[0];
  /** The live leases, replaced whole by the actor (copy on write); callers only read it. */
  private volatile Lease[] leases = NONE;
  /** Where the next caller starts looking, so that calls spread over the workers. */
  private final AtomicInteger next = new AtomicInteger();
  /** Calls that went through the lane and ended well, since the actor last asked (for the circuit breaker). */
  private final AtomicLong succeeded = new AtomicLong();
  private final PoolLink link;

  Lane(PoolLink link) {
    this.link = link;
  }

  /**
   * Starts {@code job} (one result, no session) on a lent worker, on the caller's thread; false when it must go to the
   * pool's actor: nothing lent is free, or the worker's port refused it.
   */
  public boolean tryStart(Job job) {
    Lease[] current = leases;
    int n = current.length;
    if (n == 0) {
      return false;
    }
    int from = next.getAndIncrement();
    for (int i = 0; i < n; i++) {
      Lease lease = current[Math.floorMod(from + i, n)];
      if (lease.take()) {
        if (lease.port.tryExecute(job, lease::giveBack)) {
          return true;
        }
        if (!lease.release()) {
          // Revoked meanwhile, so the actor counts this permit as in use: it has to hear that it is not.
          link.tell(new PoolActor.PermitUnused(lease.workerId));
        }
        return false; // the worker is on its way out, or the call needs the long way: the actor decides
      }
    }
    return false;
  }

  /** Lends {@code room} calls of {@code slot}'s ready worker (the actor's thread); returns its lease. */
  Lease lend(Slot slot, int room) {
    Lease lease = slot.lease();
    if (lease != null && lease.add(room)) {
      return lease;
    }
    lease = new Lease(slot.workerId(), slot.port(), room);
    Lease[] grown = Arrays.copyOf(leases, leases.length + 1);
    grown[grown.length - 1] = lease;
    leases = grown;
    return lease;
  }

  /** Forgets {@code lease}, revoked already by the actor. */
  void forget(Lease lease) {
    Lease[] current = leases;
    for (int i = 0; i < current.length; i++) {
      if (current[i] == lease) {
        Lease[] shrunk = new Lease[current.length - 1];
        System.arraycopy(current, 0, shrunk, 0, i);
        System.arraycopy(current, i + 1, shrunk, i, current.length - i - 1);
        leases = shrunk;
        return;
      }
    }
  }

  /** Whether a call went through the lane and ended well since the last time this was asked. */
  boolean takeSucceeded() {
    return succeeded.getAndSet(0) > 0;
  }

  /** Forgets every lease, each revoked already by the actor. */
  void clear() {
    leases = NONE;
  }

  /**
   * One worker's lent room: how many calls may still start on it, or {@link #REVOKED} once the actor took the room
   * back. Callers take and give back permits; only the actor adds room or revokes.
   */
  final class Lease {
    private static final int REVOKED = -1;
    final String workerId;
    final WorkerPort port;
    private final AtomicInteger free;

    private Lease(String workerId, WorkerPort port, int room) {
      this.workerId = workerId;
      this.port = port;
      this.free = new AtomicInteger(room);
    }

    private boolean take() {
      while (true) {
        int now = free.get();
        if (now <= 0) {
          return false; // none free, or revoked
        }
        if (free.compareAndSet(now, now - 1)) {
          return true;
        }
      }
    }

    /** A call taken here ended well: its permit is free again; false once revoked (then the worker tells the actor). */
    private boolean giveBack() {
      if (!release()) {
        return false;
      }
      succeeded.incrementAndGet();
      return true;
    }

    /** The permit is free again; false once revoked. */
    private boolean release() {
      return change(1);
    }

    private boolean add(int room) {
      return change(room);
    }

    private boolean change(int by) {
      while (true) {
        int now = free.get();
        if (now == REVOKED) {
          return false;
        }
        if (free.compareAndSet(now, now + by)) {
          return true;
        }
      }
    }

    /** Takes the room back; returns how many permits were free (those in use come back as the worker's Idle). */
    int revoke() {
      return Math.max(0, free.getAndSet(REVOKED));
    }
  }
}
