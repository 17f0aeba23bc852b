/**
 * Running a node as a member of an Akka Cluster: its settings ({@code snakepit.cluster}, {@code serve
 * --cluster-port}), the Akka configuration they make, the wait for membership, and the marker of messages between
 * nodes. Processes stay local to each node: a node supervises, journals and settles only its own.
 */
package io.snakepit.cluster;
