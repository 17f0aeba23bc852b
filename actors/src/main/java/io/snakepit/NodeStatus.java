package io.snakepit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.List;

/**
 * What a node's pools and workers are doing now: {@link Snakepit#status()}, the HTTP endpoint's {@code /status} and
 * {@code snakepit status}. A snapshot, taken when asked: resident memory is read from /proc then; CPU use and health
 * are those of the node's last evaluation (every {@code snakepit.status.interval}).
 *
 * @param instance the node's instance name (snakepit.instance)
 * @param time when the snapshot was taken
 * @param pools the pools, in name order
 */
public record NodeStatus(String instance, Instant time, List<PoolStatus> pools) {
  public NodeStatus {
    pools = List.copyOf(pools);
  }

  /**
   * One pool.
   *
   * @param name its name
   * @param size the serving workers it keeps (as configured, or as last resized)
   * @param spares the warm spares it keeps besides
   * @param queued calls waiting in its queue for a worker
   * @param circuitOpen whether its circuit breaker is open (calls fail at once)
   * @param lowestHealth the lowest health of its workers, or null before any was evaluated
   * @param workers its live workers (starting, serving, retiring), by slot
   */
  public record PoolStatus(String name, int size, int spares, int queued, boolean circuitOpen, Double lowestHealth,
      List<WorkerStatus> workers) {
    public PoolStatus {
      workers = List.copyOf(workers);
    }
  }

  /**
   * One live worker.
   *
   * @param id its id, {@code pool-slot-generation}
   * @param slot the slot it serves (a spare that took a slot's place serves that slot)
   * @param state starting, idle, busy or retiring (recycled, finishing its calls)
   * @param pid its Python process; 0 while starting
   * @param shimPid its shim; 0 before the shim was started
   * @param calls the calls it finished
   * @param failed of those, the ones that did not return a value (the tool raised, a deadline passed, the worker
   *     failed it; cancelled ones are not counted)
   * @param rssBytes its Python process's resident memory; 0 while starting
   * @param cpuPercent its CPU use over the last evaluation interval, in percent of one core
   * @param latencyMillis its calls' average time (recent ones weigh more), from taking a call to its end; 0 before
   *     its first call
   * @param health its health score, 0 to 1; null before its first evaluation
   * @param healthFactors the factors of that score; null with it
   * @param healthWhy what lowers the score, in words; empty when nothing does
   * @param restarts workers its slot lost (any exit but a requested stop) within {@code snakepit.status.restarts-window}
   * @param uptimeSeconds since it became ready (0 while starting)
   * @param lastExit how its slot's previous worker ended; null if it had none
   */
  public record WorkerStatus(String id, int slot, String state, int pid, int shimPid, long calls, long failed,
      long rssBytes, double cpuPercent, double latencyMillis, Double health, HealthFactors healthFactors,
      String healthWhy, int restarts, double uptimeSeconds, LastExit lastExit) {}

  /** The factors of a health score, each 0 to 1 (1: nothing wrong); docs/OPERATIONS.md gives their curves. */
  public record HealthFactors(double memory, double cpu, double latency, double restarts, double uptime) {}

  /**
   * How a slot's previous worker ended.
   *
   * @param worker its id
   * @param pid its Python process (0 if it never had one)
   * @param reason stopped, start-failed, exited, killed, segfault, aborted, signaled, lost, memory-limit or pids-limit
   * @param status the same in words, e.g. {@code killed by signal 9 (SIGKILL)}
   * @param time when its tree was gone
   */
  public record LastExit(String worker, int pid, String reason, String status, Instant time) {}

  /** The pool named {@code name}, or null. */
  public PoolStatus pool(String name) {
    return pools.stream().filter(p -> p.name().equals(name)).findFirst().orElse(null);
  }

  /**
   * The snapshot as the JSON object {@code /status} serves: {@code instance}, {@code time}, and {@code pools}, each
   * with {@code name}, {@code size}, {@code queued}, {@code circuitOpen} and {@code workers}, each worker with
   * {@code id}, {@code slot}, {@code state}, {@code pid}, {@code shimPid}, {@code calls}, {@code failed},
   * {@code rssBytes}, {@code cpuPercent}, {@code health}, {@code healthFactors}, {@code uptimeSeconds} and
   * {@code lastExit} (and a few more); docs/OPERATIONS.md shows one.
   */
  public ObjectNode toJsonTree() {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode();
    root.put("instance", instance);
    root.put("time", time.toString());
    ArrayNode poolArray = root.putArray("pools");
    for (PoolStatus p : pools) {
      ObjectNode pool = poolArray.addObject();
      pool.put("name", p.name());
      pool.put("size", p.size());
      pool.put("spares", p.spares());
      pool.put("queued", p.queued());
      pool.put("circuitOpen", p.circuitOpen());
      pool.put("lowestHealth", p.lowestHealth() == null ? null : round(p.lowestHealth(), 3));
      ArrayNode workers = pool.putArray("workers");
      for (WorkerStatus w : p.workers()) {
        ObjectNode worker = workers.addObject();
        worker.put("id", w.id());
        worker.put("slot", w.slot());
        worker.put("state", w.state());
        worker.put("pid", w.pid());
        worker.put("shimPid", w.shimPid());
        worker.put("calls", w.calls());
        worker.put("failed", w.failed());
        worker.put("rssBytes", w.rssBytes());
        worker.put("cpuPercent", round(w.cpuPercent(), 1));
        worker.put("latencyMillis", round(w.latencyMillis(), 3));
        worker.put("health", w.health() == null ? null : round(w.health(), 3));
        if (w.healthFactors() == null) {
          worker.putNull("healthFactors");
        } else {
          HealthFactors f = w.healthFactors();
          worker.putObject("healthFactors").put("memory", round(f.memory(), 3)).put("cpu", round(f.cpu(), 3))
              .put("latency", round(f.latency(), 3)).put("restarts", round(f.restarts(), 3))
              .put("uptime", round(f.uptime(), 3));
        }
        worker.put("healthWhy", w.healthWhy());
        worker.put("restarts", w.restarts());
        worker.put("uptimeSeconds", round(w.uptimeSeconds(), 1));
        if (w.lastExit() == null) {
          worker.putNull("lastExit");
        } else {
          LastExit e = w.lastExit();
          worker.putObject("lastExit").put("worker", e.worker()).put("pid", e.pid()).put("reason", e.reason())
              .put("status", e.status()).put("time", e.time().toString());
        }
      }
    }
    return root;
  }

  /** {@link #toJsonTree()} as compact text. */
  public String toJson() {
    return toJsonTree().toString();
  }

  private static double round(double value, int places) {
    double scale = Math.pow(10, places);
    return Math.round(value * scale) / scale;
  }
}
