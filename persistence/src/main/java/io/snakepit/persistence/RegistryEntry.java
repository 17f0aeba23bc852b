package io.snakepit.persistence;

import java.util.List;

/**
 * One worker as the journal knows it, from its reservation until it is settled.
 *
 * @param nonce the worker's unique key, also in its environment (SNAKEPIT_NONCE)
 * @param workerId the worker's name in its pool, for people
 * @param incarnation the node incarnation that reserved it
 * @param reservedAt when it was reserved (epoch ms)
 * @param bootId the boot id at reservation
 * @param cgroups the cgroups made for it ({@code controller=directory}), killed and removed when it is settled
 * @param spawned what the shim reported once the worker was ready; null while only reserved
 * @param exitStatus how the worker ended, if the JVM saw it; null otherwise
 */
public record RegistryEntry(String nonce, String workerId, String incarnation, long reservedAt, String bootId,
    List<String> cgroups, SpawnedWorker spawned, String exitStatus) implements RegistrySerializable {

  public RegistryEntry {
    cgroups = cgroups == null ? List.of() : List.copyOf(cgroups); // older snapshots have none
  }

  RegistryEntry withSpawned(SpawnedWorker s) {
    return new RegistryEntry(nonce, workerId, incarnation, reservedAt, bootId, cgroups, s, exitStatus);
  }

  RegistryEntry withExit(String status) {
    return new RegistryEntry(nonce, workerId, incarnation, reservedAt, bootId, cgroups, spawned, status);
  }
}
