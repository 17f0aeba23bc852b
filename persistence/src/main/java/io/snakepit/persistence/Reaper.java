package io.snakepit.persistence;

import io.snakepit.shim.Cgroups;
import io.snakepit.shim.Pidfd;
import io.snakepit.shim.ProcStat;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles the open entries an earlier JVM left: finds which recorded processes are still the ones recorded, and
 * applies the orphan policy to them, without ever signalling a process it has not verified.
 *
 * <p>A process is verified only if it carries this instance's marker and the entry's nonce in its environment and,
 * for the recorded worker and shim, has the recorded start time. Verification happens after a pidfd is opened on the
 * process, and the signal goes through that pidfd, so a pid reused in between is never hit.
 */
public final class Reaper {
  /** Environment variables that mark every process of a worker's tree. */
  public static final String INSTANCE_VARIABLE = "SNAKEPIT_INSTANCE";
  public static final String NONCE_VARIABLE = "SNAKEPIT_NONCE";
  /** Names the instance lock (and so the journal) that owns the tree: see {@link InstanceLock#identity()}. */
  public static final String REGISTRY_VARIABLE = "SNAKEPIT_REGISTRY";
  /** The incarnation recorded for an entry the journal did not have, made up from what /proc shows. */
  public static final String UNTRACKED = "untracked";
  private static final String WORKER_VARIABLE = "SNAKEPIT_WORKER_ID";

  private static final Logger LOG = LoggerFactory.getLogger(Reaper.class);

  private final String instance;
  private final String bootId;
  private final OrphanPolicy policy;
  private final String registry;
  private final long startedBefore;

  /** A process of a tree, verified and pinned. */
  private record Target(Pidfd handle, long startTime) {}

  /** What was found for one entry and what is to be done. */
  private static final class Plan {
    final RegistryEntry entry;
    final List<Target> targets = new ArrayList<>();
    final List<String> impostors = new ArrayList<>();
    OrphanPolicy.Tier tier;
    Duration age = Duration.ZERO;
    Settlement how;
    String detail = "";
    /** Its cgroups, when they still exist on this boot: killed and removed with the rest of the tree. */
    Cgroups.WorkerCgroup cgroup;

    Plan(RegistryEntry entry) {
      this.entry = entry;
    }
  }

  /**
   * A reaper for the journal's entries only: processes the journal does not name are never touched.
   */
  public Reaper(String instance, String bootId, OrphanPolicy policy) {
    this(instance, bootId, policy, null, 0);
  }

  /**
   * A reaper that also settles processes the journal lost: those that carry this instance's marker and
   * {@code registry} (the identity of the instance lock this JVM holds, so nobody else alive owns them) and started
   * before {@code startedBefore} (clock ticks since boot, as /proc/PID/stat field 22 counts them).
   */
  public Reaper(String instance, String bootId, OrphanPolicy policy, String registry, long startedBefore) {
    this.instance = instance;
    this.bootId = bootId;
    this.policy = policy;
    this.registry = registry;
    this.startedBefore = startedBefore;
  }

  /**
   * Settles {@code open}: verifies, signals (unless {@code dryRun}) and reports. Entries the policy watches stay open;
   * every other entry gets a closing in the report, for the caller to journal. Processes of this registry that no
   * open entry names (the journal lost them) are settled the same way, each tree as an entry of its own.
   */
  public SettlementReport settle(List<RegistryEntry> open, boolean dryRun) {
    return settle(open, Set.of(), dryRun);
  }

  /**
   * As {@link #settle(List, boolean)}, leaving alone the entries whose nonce is in {@code kept} (and their
   * processes): the workers this node adopted from a planned restart.
   */
  public SettlementReport settle(List<RegistryEntry> open, Set<String> kept, boolean dryRun) {
    long started = System.nanoTime();
    Scan scan = markedProcesses();
    scan.byNonce().keySet().removeAll(kept);
    open = open.stream().filter(e -> !kept.contains(e.nonce())).toList();
    long now = ProcStat.nowTicks();
    List<Plan> plans = new ArrayList<>();
    for (RegistryEntry entry : open) {
      plans.add(plan(entry, scan.byNonce().getOrDefault(entry.nonce(), List.of()), now));
    }
    for (RegistryEntry lost : untracked(open, scan)) {
      plans.add(plan(lost, scan.byNonce().get(lost.nonce()), now));
    }
    if (!dryRun) {
      execute(plans);
    }
    for (Plan p : plans) {
      p.targets.forEach(t -> t.handle().close());
    }
    List<SettlementReport.Row> rows = new ArrayList<>();
    for (Plan p : plans) {
      String detail = UNTRACKED.equals(p.entry.incarnation()) ? "not in the journal, found in /proc; " + p.detail
          : p.detail;
      rows.add(new SettlementReport.Row(p.entry, p.how, p.tier == null ? "" : p.tier.describe(),
          p.targets.stream().map(t -> t.handle().pid()).toList(), p.impostors, p.age, detail));
    }
    return new SettlementReport(rows, dryRun, Duration.ofNanos(System.nanoTime() - started), Pidfd.supported(),
        List.of());
  }

  /**
   * Trees that carry this registry's marker but no open entry's nonce, each made an entry from its processes' own
   * environment. Those without the registry marker (another data directory's node of the same name, or a node
   * without a registry) are left alone.
   */
  private List<RegistryEntry> untracked(List<RegistryEntry> open, Scan scan) {
    if (registry == null) {
      return List.of();
    }
    Set<String> known = new HashSet<>();
    open.forEach(e -> known.add(e.nonce()));
    List<RegistryEntry> lost = new ArrayList<>();
    for (Map.Entry<String, List<ProcStat>> tree : scan.byNonce().entrySet()) {
      if (known.contains(tree.getKey())) {
        continue;
      }
      String worker = "?";
      boolean ours = false;
      for (ProcStat p : tree.getValue()) {
        Map<String, String> env = scan.environs().get(p.pid());
        if (registry.equals(env.get(REGISTRY_VARIABLE)) && p.startTime() < startedBefore) {
          ours = true;
          worker = env.getOrDefault(WORKER_VARIABLE, worker);
        }
      }
      if (ours) {
        lost.add(new RegistryEntry(tree.getKey(), worker, UNTRACKED, 0, bootId, List.of(), null, null));
      } else {
        LOG.info("processes {} carry instance '{}' and nonce {} but not this registry's marker {}={}: another node's,"
            + " left alone", tree.getValue().stream().map(ProcStat::pid).toList(), instance, tree.getKey(),
            REGISTRY_VARIABLE, registry);
      }
    }
    if (!lost.isEmpty()) {
      LOG.warn("{} process trees of this instance have no entry in the journal (it was damaged, rolled back or"
          + " deleted): settling them from /proc", lost.size());
    }
    return lost;
  }

  /** The processes that carry this instance's marker, by nonce, and the environment each was seen with. */
  private record Scan(Map<String, List<ProcStat>> byNonce, Map<Integer, Map<String, String>> environs) {}

  /** One pass over /proc: every live process carrying this instance's marker, by nonce. */
  private Scan markedProcesses() {
    Map<String, List<ProcStat>> byNonce = new HashMap<>();
    Map<Integer, Map<String, String>> environs = new HashMap<>();
    long self = ProcessHandle.current().pid();
    for (ProcStat p : ProcStat.all()) {
      if (p.pid() == self || p.state() == 'Z') {
        continue;
      }
      ProcStat.environ(p.pid()).ifPresent(env -> {
        String nonce = env.get(NONCE_VARIABLE);
        if (nonce != null && instance.equals(env.get(INSTANCE_VARIABLE))) {
          byNonce.computeIfAbsent(nonce, k -> new ArrayList<>()).add(p);
          environs.put(p.pid(), env);
        }
      });
    }
    return new Scan(byNonce, environs);
  }

  /** What to do with one entry; {@code marked}: the scan's processes of its nonce; {@code now}: in clock ticks. */
  private Plan plan(RegistryEntry entry, List<ProcStat> marked, long now) {
    Plan plan = new Plan(entry);
    if (!bootId.equals(entry.bootId())) {
      plan.how = Settlement.REBOOTED;
      plan.detail = "recorded under boot " + entry.bootId() + ", this is boot " + bootId + ": nothing signalled";
      return plan;
    }
    plan.cgroup = ownCgroup(entry);
    SpawnedWorker s = entry.spawned();
    Map<Integer, Long> recorded = new LinkedHashMap<>();
    if (s != null) {
      recorded.put(s.identity().pid(), s.identity().startTime());
      recorded.put(s.identity().shimPid(), s.identity().shimStartTime());
      for (Map.Entry<Integer, Long> r : recorded.entrySet()) {
        // A recorded process the scan found with this nonce was read a moment ago; any other is read now.
        Optional<ProcStat> seen = marked.stream().filter(p -> p.pid() == r.getKey()).findFirst();
        if (seen.isPresent() && seen.get().startTime() == r.getValue()) {
          continue; // the recorded process, marked with this entry's nonce: no impostor
        }
        ProcStat.read(r.getKey()).filter(p -> p.state() != 'Z').ifPresent(p -> {
          if (p.startTime() != r.getValue() || !carriesMarker(p.pid(), entry.nonce())) {
            plan.impostors.add(r.getKey() + " (" + (p.startTime() != r.getValue()
                ? "start time " + p.startTime() + ", recorded " + r.getValue() : "no marker of this instance") + ")");
          }
        });
      }
    }
    for (ProcStat p : marked) {
      // The nonce in its environment makes a process part of this tree (it is random per worker, and inherited by
      // every descendant, including those that left the session). A recorded tree's members must also be no older
      // than its shim; processes of a reserved-only entry are known by the nonce alone (the crash came before their
      // identity was written).
      boolean recordedImpostor = recorded.containsKey(p.pid()) && recorded.get(p.pid()) != p.startTime();
      if (!recordedImpostor && (s == null || p.startTime() >= s.identity().shimStartTime())) {
        pin(p, entry.nonce()).ifPresent(plan.targets::add);
      }
    }
    // The pinned start times date the tree: no further read of /proc per process.
    plan.age = plan.targets.stream().map(t -> ProcStat.age(t.startTime(), now)).max(Duration::compareTo)
        .orElse(Duration.ZERO);
    if (!plan.impostors.isEmpty()) {
      LOG.warn("registry entry {} ({}): pid {} is not the recorded process; it gets no signal", entry.nonce(),
          entry.workerId(), plan.impostors);
    }
    if (plan.targets.isEmpty() && plan.cgroup != null && plan.cgroup.populated()) {
      // Processes in its cgroup without its marker (they replaced their environment): still its tree.
      plan.tier = policy.forAge(Duration.ofDays(365 * 100));
      plan.how = Settlement.KILLED;
      plan.detail = "cgroup still populated: killed through cgroup.kill";
      return plan;
    }
    if (plan.targets.isEmpty()) {
      plan.how = plan.impostors.isEmpty() ? Settlement.EXITED : Settlement.IMPOSTOR;
      plan.detail = plan.impostors.isEmpty() ? "no process of its tree is alive"
          : "impostor " + String.join(", ", plan.impostors);
      return plan;
    }
    plan.tier = policy.forAge(plan.age);
    // What a dry run reports; execute() replaces it with what was done.
    if (plan.tier.action() != OrphanPolicy.Action.WATCH) {
      plan.how = Settlement.KILLED;
      plan.detail = plan.tier.describe() + ": " + plan.targets.size() + " processes";
    } else {
      plan.detail = "watched: " + plan.targets.size() + " processes left running, entry stays open";
    }
    return plan;
  }

  /**
   * The entry's cgroups if any of them still exists. They are this tree's by construction: made for this worker
   * alone, named after its nonce, and gone with a reboot (an entry of another boot never gets here).
   */
  private static Cgroups.WorkerCgroup ownCgroup(RegistryEntry entry) {
    if (entry.cgroups().isEmpty()) {
      return null;
    }
    Cgroups.WorkerCgroup cg = Cgroups.of(entry.cgroups());
    boolean named = cg.dirs().stream().allMatch(d -> d.getFileName().toString().endsWith("-" + entry.nonce()));
    if (!named) {
      LOG.warn("registry entry {} ({}): its recorded cgroups {} are not named after it; left alone", entry.nonce(),
          entry.workerId(), entry.cgroups());
      return null;
    }
    return cg.dirs().stream().anyMatch(Files::isDirectory) ? cg : null;
  }

  /** Opens a pidfd on a marked process, then verifies it again: only then may a signal go through the pidfd. */
  private Optional<Target> pin(ProcStat seen, String nonce) {
    Optional<Pidfd> handle = Pidfd.open(seen.pid());
    if (handle.isEmpty()) {
      return Optional.empty();
    }
    Pidfd h = handle.get();
    boolean same = ProcStat.read(seen.pid()).filter(p -> p.startTime() == seen.startTime() && p.state() != 'Z')
        .isPresent() && carriesMarker(seen.pid(), nonce);
    if (!same) {
      h.close();
      return Optional.empty();
    }
    return Optional.of(new Target(h, seen.startTime()));
  }

  private boolean carriesMarker(int pid, String nonce) {
    return ProcStat.environ(pid).filter(env -> instance.equals(env.get(INSTANCE_VARIABLE))
        && nonce.equals(env.get(NONCE_VARIABLE))).isPresent();
  }

  /** Signals every plan's targets at once, then waits for each to end within its grace, then kills the rest. */
  private void execute(List<Plan> plans) {
    if (!Pidfd.supported()) {
      LOG.warn("this kernel has no pidfd: orphans are verified and then signalled by pid, which leaves a small"
          + " window for pid reuse");
    }
    long now = System.nanoTime();
    Map<Plan, Long> deadlines = new LinkedHashMap<>();
    for (Plan p : plans) {
      if (p.tier == null) {
        continue;
      }
      switch (p.tier.action()) {
        case WATCH -> {
          p.how = null;
          p.detail = "watched: " + p.targets.size() + " processes left running, entry stays open";
          LOG.info("registry entry {} ({}): {} live processes, age {} s: watching", p.entry.nonce(),
              p.entry.workerId(), p.targets.size(), p.age.toSeconds());
        }
        case KILL -> {
          signalAll(p, 9);
          deadlines.put(p, now);
        }
        case TERMINATE -> {
          signalAll(p, 15);
          deadlines.put(p, now + p.tier.grace().toNanos());
        }
      }
    }
    FaultInjection.haltIfAsked("after-kill");
    awaitOrKill(deadlines);
    for (Plan p : deadlines.keySet()) {
      p.how = Settlement.KILLED;
      p.detail = p.tier.describe() + ": " + p.targets.size() + " processes"
          + (p.impostors.isEmpty() ? "" : "; impostor left alone: " + String.join(", ", p.impostors));
      LOG.info("registry entry {} ({}): {}", p.entry.nonce(), p.entry.workerId(), p.detail);
    }
    for (Plan p : plans) {
      if (p.how != null && p.cgroup != null) {
        removeCgroup(p);
      }
    }
  }

  /** cgroup.kill for what is left in a settled entry's cgroups, then their removal. */
  private static void removeCgroup(Plan p) {
    boolean populated = p.cgroup.populated();
    try {
      p.cgroup.kill();
      p.cgroup.remove(Duration.ofSeconds(10));
      if (populated) {
        p.detail += "; its cgroup was killed (cgroup.kill) and removed";
      }
    } catch (Cgroups.CgroupException e) {
      p.detail += "; " + e.getMessage();
      LOG.error("registry entry {} ({}): {}", p.entry.nonce(), p.entry.workerId(), e.getMessage());
    }
  }

  private static void signalAll(Plan p, int signal) {
    for (Target t : p.targets) {
      t.handle().signal(signal);
    }
  }

  /** Polls until every target is gone; a plan whose deadline passes gets SIGKILL (once), then is waited for too. */
  private static void awaitOrKill(Map<Plan, Long> deadlines) {
    Map<Plan, Long> pending = new LinkedHashMap<>(deadlines);
    List<Plan> killed = new ArrayList<>();
    long giveUp = System.nanoTime() + Duration.ofSeconds(10).toNanos()
        + deadlines.values().stream().mapToLong(d -> d - System.nanoTime()).max().orElse(0);
    while (!pending.isEmpty() && System.nanoTime() < giveUp) {
      long now = System.nanoTime();
      pending.entrySet().removeIf(e -> e.getKey().targets.stream().noneMatch(t -> alive(t)));
      for (Map.Entry<Plan, Long> e : pending.entrySet()) {
        if (now >= e.getValue() && !killed.contains(e.getKey())) {
          killed.add(e.getKey());
          for (Target t : e.getKey().targets) {
            if (alive(t)) {
              t.handle().signal(9);
            }
          }
        }
      }
      if (!pending.isEmpty()) {
        try {
          Thread.sleep(5);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private static boolean alive(Target t) {
    return ProcStat.isAlive(t.handle().pid(), t.startTime());
  }
}
