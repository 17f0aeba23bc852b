package io.snakepit.persistence;

/** Marks the registry's events and snapshot, bound to Jackson CBOR in reference.conf. */
public interface RegistrySerializable {}
