package io.snakepit.persistence;

/**
 * What identifies a running worker's tree, as recorded in the journal before the worker takes calls.
 *
 * @param shimPid the shim's pid, which is also the session id of the whole tree
 * @param shimStartTime the shim's start time (clock ticks since boot)
 * @param pid the Python process's pid
 * @param pgid its process group
 * @param startTime its start time (clock ticks since boot)
 * @param bootId the boot id under which all of the above hold
 * @param socket the worker's socket path
 * @param cgroup the worker's cgroup, empty if none
 */
public record SpawnedWorker(int shimPid, long shimStartTime, int pid, int pgid, long startTime, String bootId,
    String socket, String cgroup) implements RegistrySerializable {}
