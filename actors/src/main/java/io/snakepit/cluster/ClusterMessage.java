package io.snakepit.cluster;

/**
 * The marker of every message of snakepit's that crosses between cluster nodes. reference.conf binds it to Akka's
 * Jackson CBOR serializer; a clustered node turns Java serialization off, so a message without it fails loudly
 * instead of travelling as Java-serialized bytes. Arguments and results travel inside such messages as bytes.
 */
public interface ClusterMessage {}
