package io.snakepit.cluster;

/**
 * How busy one node's pool is, as that node reports it to the others: what it holds (calls running and queued)
 * against what it can run at once. Other nodes route a call to the least loaded node by these figures.
 *
 * @param inFlight calls the pool holds now, running or queued
 * @param capacity calls it runs at once: its workers times their {@code concurrency}
 * @param maxMessageSize its {@code max-message-size}, in bytes
 */
public record PoolLoad(int inFlight, int capacity, int maxMessageSize) {
  /** Load per unit of capacity; a pool of no capacity counts as one. */
  double ratio() {
    return (double) inFlight / Math.max(1, capacity);
  }
}
