/** A pool of workers: start, fair dispatch to idle workers, a bounded queue, replacement of dead workers. Internal. */
package io.snakepit.actors.pool;
