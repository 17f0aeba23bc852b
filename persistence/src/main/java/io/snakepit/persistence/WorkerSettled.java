package io.snakepit.persistence;

import java.util.List;

/**
 * Published on the actor system's event stream for every journal entry a settlement closed (or watched: then
 * {@code how} is null).
 *
 * @param instance the instance whose journal held the entry
 * @param entry the entry
 * @param how how it was closed, or null if it stays open (watched)
 * @param processes the verified processes of its tree that were signalled
 * @param detail what was found and done, in words
 */
public record WorkerSettled(String instance, RegistryEntry entry, Settlement how, List<Integer> processes,
    String detail) {}
