package io.snakepit;

/** How strictly a session's calls stay on the worker that served its first call. */
public enum Affinity {
  /** Prefer the session's worker; if it is busy (or gone), any idle worker serves the call. */
  HINT,
  /** Only the session's worker serves the call: wait for it, behind the session's earlier calls. */
  STRICT_QUEUE,
  /** Only the session's worker serves the call; if it is busy, fail at once with {@link SessionBusyException}. */
  STRICT_FAIL_FAST
}
