package io.snakepit.actors.pool;

import io.snakepit.actors.worker.Adoption;
import io.snakepit.actors.worker.Launch;
import io.snakepit.persistence.RegistryEntry;
import io.snakepit.shim.ProcStat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's first step at start, before its settlement: the workers an earlier JVM of this instance left running for
 * it (a planned restart, docs/ADOPTION.md) are attached to, by pool, once each has passed {@link Adoption#attach}'s
 * checks and fits a slot of its pool. What is not adopted is settled as ever.
 *
 * @param byPool the adopted workers of each pool
 * @param refused the workers that waited and were not adopted, and why (by worker id)
 */
public record Adoptions(Map<String, List<Adoption>> byPool, Map<String, String> refused) {
  private static final Logger LOG = LoggerFactory.getLogger(Adoptions.class);
  /** How long a waiting shim has to answer the connection with its ATTACHED line. */
  private static final Duration ATTACH_TIMEOUT = Duration.ofSeconds(5);
  /** A window that ends sooner than this is not attached to: the shim may stop the tree while the node checks. */
  private static final Duration WINDOW_MARGIN = Duration.ofMillis(500);

  /** Nothing to adopt. */
  public static Adoptions none() {
    return new Adoptions(Map.of(), Map.of());
  }

  /** The nonces of the adopted workers: the settlement leaves their entries open and their processes alone. */
  public Set<String> nonces() {
    Set<String> nonces = new HashSet<>();
    byPool.values().forEach(list -> list.forEach(a -> nonces.add(a.launch().nonce())));
    return nonces;
  }

  /** How many workers were adopted. */
  public int count() {
    return byPool.values().stream().mapToInt(List::size).sum();
  }

  /** The run directories the adopted workers' sockets are in (an earlier JVM's). */
  public Set<Path> runDirectories() {
    Set<Path> dirs = new HashSet<>();
    byPool.values().forEach(list -> list.forEach(a -> dirs.add(a.launch().socket().getParent())));
    return dirs;
  }

  /**
   * Attaches to every detached worker of {@code open} that a pool of {@code pools} can take: its pool (as its Python
   * process's SNAKEPIT_POOL names it) is configured, its slot is one of the pool's, and its window has not ended. Runs
   * on a blocking thread: each attach reads /proc and waits up to 5 s for the shim's answer.
   */
  public static Adoptions attach(List<RegistryEntry> open, List<PoolSettings> pools, PoolRuntime runtime) {
    Map<String, PoolSettings> byName = new HashMap<>();
    pools.forEach(p -> byName.put(p.name(), p));
    Map<String, List<Adoption>> adopted = new LinkedHashMap<>();
    Map<String, String> refused = new LinkedHashMap<>();
    Set<String> taken = new HashSet<>();
    long now = System.currentTimeMillis();
    for (RegistryEntry entry : open) {
      RegistryEntry.Detachment detached = entry.detached();
      if (detached == null) {
        continue;
      }
      try {
        if (entry.spawned() == null) {
          throw new Adoption.Refused("the journal holds no identity for it");
        }
        if (detached.until() - WINDOW_MARGIN.toMillis() <= now) {
          throw new Adoption.Refused("its window ended");
        }
        int pid = entry.spawned().identity().pid();
        Map<String, String> env = ProcStat.environ(pid)
            .orElseThrow(() -> new Adoption.Refused("its Python (pid " + pid + ") is gone or unreadable"));
        String poolName = env.get(Launch.POOL_VARIABLE);
        PoolSettings pool = byName.get(poolName);
        if (pool == null) {
          throw new Adoption.Refused("its pool '" + poolName + "' is not configured any more");
        }
        int slot = Adoption.slotAndGeneration(entry.workerId())[0];
        if (slot < 0 || slot >= pool.workers() + pool.spares()) {
          throw new Adoption.Refused("its slot " + slot + " is not one of pool '" + poolName + "''s "
              + (pool.workers() + pool.spares()) + " now");
        }
        if (!taken.add(poolName + "/" + slot)) {
          throw new Adoption.Refused("another waiting worker took slot " + slot + " of pool '" + poolName + "'");
        }
        Launch expected = runtime.launch(pool, entry.workerId(), entry.nonce(), Path.of(entry.spawned().socket()));
        Adoption adoption = Adoption.attach(expected, entry.spawned().identity(), env, entry.cgroups(),
            Path.of(detached.controlSocket()), ATTACH_TIMEOUT);
        adopted.computeIfAbsent(poolName, k -> new ArrayList<>()).add(adoption);
        LOG.info("worker {} of pool '{}' (python pid {}): adopted from the planned restart", entry.workerId(),
            poolName, pid);
      } catch (Adoption.Refused | RuntimeException e) {
        // Whatever went wrong with one worker, the node starts: the worker is left to the settlement.
        String why = e instanceof Adoption.Refused ? e.getMessage() : "its checks failed: " + e;
        refused.put(entry.workerId(), why);
        LOG.warn("worker {} waited for this node after a planned restart, and is settled instead of adopted: {}",
            entry.workerId(), why);
      }
    }
    return new Adoptions(Map.copyOf(adopted), Map.copyOf(refused));
  }
}
