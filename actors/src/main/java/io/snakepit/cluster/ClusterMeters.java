package io.snakepit.cluster;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.Cluster;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The cluster in a node's metrics, so that one scrape of any node shows every node: each node's pools with the calls
 * they hold and what they run at once (this node's now, the others' as they last reported it, up to
 * {@code snakepit.cluster.load-interval} old), and the members by status. A node's own workers stay in its own
 * metrics; these rows are what it knows of the others. Only a clustered node loads this class.
 *
 * <p>An extension, because the metrics are bound before the node starts and its {@link ClusterPools} after: whichever
 * comes second finds the other here.
 */
public final class ClusterMeters implements Extension {
  private static final ExtensionId<ClusterMeters> ID = new ExtensionId<>() {
    @Override
    public ClusterMeters createExtension(ActorSystem<?> system) {
      return new ClusterMeters(system);
    }
  };
  private final ActorSystem<?> system;
  private final AtomicReference<ClusterPools> pools = new AtomicReference<>();

  private ClusterMeters(ActorSystem<?> system) {
    this.system = system;
  }

  /** The cluster meters of {@code system}'s node. */
  public static ClusterMeters of(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** Where the pools' loads come from, once the node has started. */
  void source(ClusterPools clusterPools) {
    pools.set(clusterPools);
  }

  /** Records the cluster's rows in {@code registry}, refreshed every {@code snakepit.cluster.load-interval}. */
  public void bind(MeterRegistry registry) {
    MultiGauge calls = MultiGauge.builder("snakepit.cluster.pool.calls")
        .description("Calls a node's pool holds, running or queued, as this node last heard (its own: now)")
        .register(registry);
    MultiGauge capacity = MultiGauge.builder("snakepit.cluster.pool.capacity")
        .description("Calls a node's pool runs at once (workers times concurrency), as this node last heard")
        .register(registry);
    MultiGauge members = MultiGauge.builder("snakepit.cluster.members")
        .description("Members of the cluster by status, as this node sees them (unreachable ones counted apart)")
        .register(registry);
    Duration interval = system.settings().config().getDuration("snakepit.cluster.load-interval");
    Runnable refresh = () -> {
      ClusterPools source = pools.get();
      List<MultiGauge.Row<?>> callRows = new ArrayList<>();
      List<MultiGauge.Row<?>> capacityRows = new ArrayList<>();
      if (source != null) {
        source.loadsByNode().forEach((node, byPool) -> byPool.forEach((pool, load) -> {
          Tags tags = Tags.of("node", node, "pool", pool);
          callRows.add(MultiGauge.Row.of(tags, load.inFlight()));
          capacityRows.add(MultiGauge.Row.of(tags, load.capacity()));
        }));
      }
      calls.register(callRows, true);
      capacity.register(capacityRows, true);
      members.register(memberRows(), true);
    };
    refresh.run();
    system.scheduler().scheduleWithFixedDelay(interval, interval, refresh, system.executionContext());
  }

  private List<MultiGauge.Row<?>> memberRows() {
    ClusterEvent.CurrentClusterState state = Cluster.get(Adapter.toClassic(system)).state();
    Map<String, Integer> byStatus = new TreeMap<>();
    for (Member m : state.getMembers()) {
      if (!state.getUnreachable().contains(m)) {
        byStatus.merge(m.status().toString().toLowerCase(Locale.ROOT), 1, Integer::sum);
      }
    }
    byStatus.put("unreachable", state.getUnreachable().size());
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    byStatus.forEach((status, n) -> rows.add(MultiGauge.Row.of(Tags.of("status", status), n)));
    return rows;
  }
}
