package io.snakepit.actors.pool;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Which worker slot each session is bound to, and when it was last used. A session binds to the slot of its first
 * call; it is forgotten once unused for the TTL, unless calls still wait for its slot. Generic over the slot type.
 */
final class Sessions<S> {

  /** A session's slot, and when the session was last used (nanoseconds). */
  private static final class Binding<S> {
    final S slot;
    long lastUsed;

    Binding(S slot, long lastUsed) {
      this.slot = slot;
      this.lastUsed = lastUsed;
    }
  }

  private final Map<String, Binding<S>> bindings = new HashMap<>();
  private final Duration ttl;
  private final LongSupplier nanoClock;

  Sessions(Duration ttl, LongSupplier nanoClock) {
    this.ttl = ttl;
    this.nanoClock = nanoClock;
  }

  boolean isBound(String session) {
    return session != null && bindings.containsKey(session);
  }

  /** The slot the session is bound to (or null), counting this as a use. */
  S use(String session) {
    Binding<S> binding = bindings.get(session);
    if (binding == null) {
      return null;
    }
    binding.lastUsed = nanoClock.getAsLong();
    return binding.slot;
  }

  /** How long ago the session was last used, in milliseconds, or -1 if it is not bound; not counted as a use. */
  long idleMillis(String session) {
    Binding<S> binding = bindings.get(session);
    return binding == null ? -1 : (nanoClock.getAsLong() - binding.lastUsed) / 1_000_000;
  }

  /** Forgets every session bound to {@code slot} (a resize retired it): their next call binds anew. */
  void unbind(S slot) {
    bindings.values().removeIf(b -> b.slot == slot);
  }

  /** Binds the session to {@code slot}, unless it is bound already (or null: no session). */
  void bindIfNew(String session, S slot) {
    if (session != null && !bindings.containsKey(session)) {
      bindings.put(session, new Binding<>(slot, nanoClock.getAsLong()));
    }
  }

  /** Forgets the sessions unused for the TTL whose slot {@code waitedFor} does not hold calls for. */
  void expire(Predicate<S> waitedFor) {
    long now = nanoClock.getAsLong();
    long limit = ttl.toNanos();
    bindings.values().removeIf(b -> now - b.lastUsed >= limit && !waitedFor.test(b.slot));
  }

  int size() {
    return bindings.size();
  }
}
