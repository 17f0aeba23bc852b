/**
 * One worker: {@link io.snakepit.actors.worker.WorkerActor} (its protocol) with one behaviour per phase over plain
 * classes: the containment of each isolation mode, the calls in flight, upkeep, start diagnosis, the stop timeline,
 * what launches and calls its shim, and its output ({@link io.snakepit.actors.worker.WorkerOutput}, taken on the
 * thread that reads the shim, never through the mailbox). Internal.
 */
package io.snakepit.actors.worker;
