package io.snakepit.actors.pool;

import io.snakepit.actors.worker.Launch;
import io.snakepit.actors.worker.WorkerConnections;
import io.snakepit.actors.worker.WorkerJournal;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * What every pool of one node shares: the unpacked shim and Python package, the socket directory, the instance name,
 * and how to open a channel to a worker's socket.
 *
 * @param shim the shim executable
 * @param workerPackage the directory holding snakepit_worker
 * @param runDir the 0700 directory for the workers' sockets
 * @param instance this node's instance name
 * @param connections opens a ready worker's gRPC channel and calls socket
 * @param journal where workers are journaled before they are used
 */
public record PoolRuntime(Path shim, Path workerPackage, Path runDir, String instance,
    WorkerConnections connections, WorkerJournal journal) {

  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * How worker {@code workerId} of pool {@code pool} starts: its socket in the run directory, a fresh nonce, and the
   * journal's markers plus the pool's name for the worker's own messages (SNAKEPIT_POOL).
   */
  public Launch launch(PoolSettings pool, String workerId) {
    byte[] nonce = new byte[8];
    RANDOM.nextBytes(nonce);
    return launch(pool, workerId, HexFormat.of().formatHex(nonce), runDir.resolve(workerId + ".sock"));
  }

  /**
   * How worker {@code workerId} of pool {@code pool} would be started with {@code nonce} and {@code socket}: what
   * an adopted worker (an earlier JVM's, with that JVM's nonce and socket) is checked against.
   */
  public Launch launch(PoolSettings pool, String workerId, String nonce, Path socket) {
    Map<String, String> markers = new HashMap<>(journal.markers());
    markers.put(Launch.POOL_VARIABLE, pool.name());
    return new Launch(shim, workerPackage, socket, instance, workerId, nonce, pool.worker(), markers);
  }
}
