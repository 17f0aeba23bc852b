package io.snakepit.cluster;

import java.util.List;

/**
 * The routing rule of a cluster pool, without a mailbox: the node's own pool while it has an idle worker, else the
 * candidate with the least load per unit of capacity, the node's own pool winning a tie and the remote ones taking
 * turns among themselves. It exists apart from the actors so that the rule has fast tests of its own.
 */
final class Placement {
  /** The local pool, if the node has one, is always candidate 0. */
  static final int NONE = -1;

  private Placement() {}

  /**
   * The candidate to send a call to, or {@link #NONE} if there is none.
   *
   * @param hasLocal whether candidate 0 is the node's own pool
   * @param candidates the loads, the local one first if there is one
   * @param turn a counter that turns through tied remote candidates
   */
  static int choose(boolean hasLocal, List<PoolLoad> candidates, long turn) {
    if (candidates.isEmpty()) {
      return NONE;
    }
    if (hasLocal && candidates.get(0).inFlight() < candidates.get(0).capacity()) {
      return 0;
    }
    double best = Double.MAX_VALUE;
    for (PoolLoad c : candidates) {
      best = Math.min(best, c.ratio());
    }
    if (hasLocal && candidates.get(0).ratio() <= best) {
      return 0;
    }
    int from = hasLocal ? 1 : 0;
    int n = candidates.size() - from;
    int start = (int) Math.floorMod(turn, (long) n);
    for (int i = 0; i < n; i++) {
      int at = from + (start + i) % n;
      if (candidates.get(at).ratio() <= best) {
        return at;
      }
    }
    return NONE;
  }
}
