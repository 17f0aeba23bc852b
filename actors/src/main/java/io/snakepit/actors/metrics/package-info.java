/** The node's metrics in Micrometer, fed by its lifecycle events; internal (the public way in is Snakepit). */
package io.snakepit.actors.metrics;
