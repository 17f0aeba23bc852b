/**
 * A pool of workers: start, fair dispatch to idle workers, a bounded queue, replacement of dead workers. Internal.
 *
 * <p>{@link io.snakepit.actors.pool.PoolActor} is the pool's protocol; its lifecycle is one behaviour per phase over
 * the shared {@code Coordinator}: waiting and starting ({@code StartingPhase}), running ({@code RunningPhase}), failed
 * and stopping ({@code EndingPhase}). The logic that needs no mailbox is in plain classes with their own unit tests:
 * {@code Dispatch} (which worker gets a call, with {@code CallQueue}, {@code Sessions} and {@code CircuitBreaker}),
 * {@code Slot} and {@code Slots} (each place's worker as a state), and {@code Restarts} (backoff, taint, retry
 * delays). {@code SlotWorkers} starts, watches and stops the workers on the actor's context.
 */
package io.snakepit.actors.pool;
