/** One worker: the actor that owns a shim's NuProcess handle, and what it needs to launch and call it. Internal. */
package io.snakepit.actors.worker;
