/**
 * The embedding API: {@link io.snakepit.Snakepit}, the {@link io.snakepit.Pool} handle, {@link io.snakepit.Result}
 * and the typed errors.
 *
 * <p>Threading contract: every method here is thread-safe and non-blocking. Returned stages complete on an internal
 * thread; do not block in their callbacks. Stream items for one call are delivered one at a time, in order.
 */
package io.snakepit;
