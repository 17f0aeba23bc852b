/**
 * The Java face of {@code snakepit-shim}: unpacking the binary from this jar, the line protocol it speaks
 * (docs/SHIM-PROTOCOL.md), exit statuses, and the process identities read from {@code /proc}.
 *
 * <p>Internal to Snakepit: none of these types is part of the embedding API.
 */
package io.snakepit.shim;
