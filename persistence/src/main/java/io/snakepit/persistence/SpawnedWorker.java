package io.snakepit.persistence;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.snakepit.shim.WorkerIdentity;
import java.util.Objects;

/**
 * What identifies a running worker's tree, as recorded in the journal before the worker takes calls: the identity
 * the shim reported at READY, and the worker's socket.
 *
 * @param identity the shim's and the Python process's pids and start times, and the boot id they hold under
 * @param socket the worker's socket path
 */
public record SpawnedWorker(WorkerIdentity identity, String socket) implements RegistrySerializable {

  public SpawnedWorker {
    Objects.requireNonNull(identity, "identity");
  }

  /**
   * Reads both shapes from the journal: this one ({@code identity}, {@code socket}), and the one journals written
   * before it hold, with the identity's fields inline (and an unused {@code cgroup}).
   */
  @JsonCreator
  static SpawnedWorker read(@JsonProperty("identity") WorkerIdentity identity, @JsonProperty("socket") String socket,
      @JsonProperty("shimPid") int shimPid, @JsonProperty("shimStartTime") long shimStartTime,
      @JsonProperty("pid") int pid, @JsonProperty("pgid") int pgid, @JsonProperty("startTime") long startTime,
      @JsonProperty("bootId") String bootId, @JsonProperty("cgroup") String unusedCgroup) {
    return new SpawnedWorker(identity != null ? identity
        : new WorkerIdentity(pid, pgid, startTime, bootId, shimPid, shimStartTime), socket);
  }
}
