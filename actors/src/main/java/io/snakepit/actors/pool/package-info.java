/**
 * A pool of workers: start, fair dispatch to idle workers, a bounded queue, replacement of dead workers. Internal.
 *
 * <p>{@link io.snakepit.actors.pool.PoolActor} keeps the pool's lifecycle and routes messages; the logic that needs no
 * mailbox is in plain classes with their own unit tests: {@code Dispatch} (which worker gets a call, with
 * {@code CallQueue}, {@code Sessions} and {@code CircuitBreaker}), {@code Slot} and {@code Slots} (each place's
 * worker as a state), and {@code Restarts} (backoff, taint, retry delays). {@code SlotWorkers} starts, watches and
 * stops the workers on the actor's context.
 */
package io.snakepit.actors.pool;
