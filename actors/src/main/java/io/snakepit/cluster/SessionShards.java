package io.snakepit.cluster;

import akka.actor.ActorRef;
import akka.cluster.sharding.ShardCoordinator;
import java.util.Map;
import java.util.Set;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Where the shards of session bindings live: on the node whose call first needed the shard, and there they stay. A
 * binding is kept in memory only, so moving a shard (Akka's default rebalancing when a node joins) would forget the
 * bindings of its sessions and could send their next calls to another worker; only the loss of the shard's node
 * moves it.
 */
final class SessionShards extends ShardCoordinator.AbstractShardAllocationStrategy {

  @Override
  public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
      Map<ActorRef, IndexedSeq<String>> current) {
    return Future.successful(choose(requester, current.keySet()));
  }

  @Override
  public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
    return Future.successful(Set.of());
  }

  /** The requester's region if the coordinator lists it, else any listed one (the requester if none is). */
  static <R> R choose(R requester, Set<R> regions) {
    if (regions.contains(requester) || regions.isEmpty()) {
      return requester;
    }
    return regions.iterator().next();
  }
}
