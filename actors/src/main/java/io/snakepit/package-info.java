/**
 * The embedding API: {@link io.snakepit.Snakepit}, the {@link io.snakepit.Pool} handle, {@link io.snakepit.CallOptions},
 * {@link io.snakepit.Result}, the start's {@link io.snakepit.Settlement} and the typed errors. Its signatures name only
 * types of this package, the JDK and Akka's {@code ActorSystem} and extension types; the node behind it
 * ({@code io.snakepit.actors.Node}: the actors, the registry, the shim protocol) is internal.
 *
 * <p>Threading contract: every method here is thread-safe and non-blocking, except the first
 * {@link io.snakepit.Snakepit#get} of an actor system, which starts its node (opens the registry's journal, unpacks
 * the shim and the worker package) on the calling thread. Returned stages complete on an internal thread; do not
 * block in their callbacks. Stream items for one call are delivered one at a time, in order.
 */
package io.snakepit;
