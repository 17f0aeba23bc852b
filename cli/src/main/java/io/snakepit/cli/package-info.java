/**
 * The {@code snakepit} command line: {@code serve} runs a node with a gateway, {@code call} calls one, {@code load}
 * measures one under load.
 */
package io.snakepit.cli;
