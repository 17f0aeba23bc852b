/**
 * Akka Streams stages over worker calls: {@link io.snakepit.actors.stream.CallSource}, the backpressured source
 * behind {@link io.snakepit.Pool#stream}.
 */
package io.snakepit.actors.stream;
