/** The {@code snakepit} command line: {@code serve} runs a node with a gateway, {@code call} calls one. */
package io.snakepit.cli;
