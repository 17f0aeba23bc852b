/**
 * One worker: {@link io.snakepit.actors.worker.WorkerActor} (its protocol) with one behaviour per phase over plain
 * classes: the containment of each isolation mode, the calls in flight, upkeep, start diagnosis, the stop timeline,
 * and what launches and calls its shim. Internal.
 */
package io.snakepit.actors.worker;
