/**
 * The durable worker registry: every worker's identity journaled (akka-persistence, JDBC) before the worker is used,
 * the per-instance lock that decides who may settle a journal, and the settlement of what an earlier JVM left.
 * Internal to Snakepit.
 */
package io.snakepit.persistence;
