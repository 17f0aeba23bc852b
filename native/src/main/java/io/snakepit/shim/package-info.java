/**
 * The Java face of {@code snakepit-shim}: unpacking the binary from this jar, the line protocol it speaks
 * (docs/SHIM-PROTOCOL.md), exit statuses, the process identities read from {@code /proc}, and the owner-only
 * directories kept in places other users reach.
 *
 * <p>Internal to Snakepit: none of these types is part of the embedding API.
 */
package io.snakepit.shim;
