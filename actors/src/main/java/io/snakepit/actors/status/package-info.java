/**
 * The node's view of each live worker (state, calls, memory, CPU, latency, its slot's exits) and its health score;
 * internal (the public way in is {@code Snakepit.status()}).
 */
package io.snakepit.actors.status;
