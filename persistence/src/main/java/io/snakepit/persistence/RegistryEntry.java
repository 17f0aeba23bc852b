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
 * @param detached where its shim waits for a next node after a planned restart (snakepit detach); null otherwise
 */
public record RegistryEntry(String nonce, String workerId, String incarnation, long reservedAt, String bootId,
    List<String> cgroups, SpawnedWorker spawned, String exitStatus, Detachment detached)
    implements RegistrySerializable {

  /**
   * A worker left running by a planned restart: its shim listens on {@code controlSocket} for a next owner until
   * {@code until} (epoch ms), then takes its tree down by itself.
   */
  public record Detachment(String controlSocket, long until) implements RegistrySerializable {}

  public RegistryEntry {
    cgroups = cgroups == null ? List.of() : List.copyOf(cgroups); // older snapshots have none
  }

  /** An entry that was not detached. */
  public RegistryEntry(String nonce, String workerId, String incarnation, long reservedAt, String bootId,
      List<String> cgroups, SpawnedWorker spawned, String exitStatus) {
    this(nonce, workerId, incarnation, reservedAt, bootId, cgroups, spawned, exitStatus, null);
  }

  RegistryEntry withSpawned(SpawnedWorker s) {
    return new RegistryEntry(nonce, workerId, incarnation, reservedAt, bootId, cgroups, s, exitStatus, detached);
  }

  RegistryEntry withExit(String status) {
    return new RegistryEntry(nonce, workerId, incarnation, reservedAt, bootId, cgroups, spawned, status, detached);
  }

  RegistryEntry withDetached(Detachment d) {
    return new RegistryEntry(nonce, workerId, incarnation, reservedAt, bootId, cgroups, spawned, exitStatus, d);
  }
}
