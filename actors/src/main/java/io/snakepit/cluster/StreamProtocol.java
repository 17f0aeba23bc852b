package io.snakepit.cluster;

import akka.actor.typed.ActorRef;

/**
 * The messages of a streaming call served by another node. They exist apart from {@link PoolEndpoint} and
 * {@link PoolDirectory} so that a stream's protocol reads in one place: the caller opens the stream at the pool's
 * endpoint, which starts a {@link ServedStream}; that actor answers with its own address, then each start of the call
 * on a worker, the items and the end, to the caller's directory ({@link RemoteStreams} takes them there). Items come
 * only as the caller grants credits ({@link Demand}), so a slow consumer holds the remote worker back.
 */
public final class StreamProtocol {
  private StreamProtocol() {}

  /** What the serving node tells the caller's directory of a stream; {@link RemoteStreams} takes it there. */
  public interface ToCaller extends PoolDirectory.Command {
    /** The caller's id of the call. */
    String callId();
  }

  /**
   * A streaming call from another node, to a pool's endpoint.
   *
   * @param callId the caller's id of the call, unique on the caller's node
   * @param request the {@code ExecuteRequest}'s protobuf bytes
   * @param timeoutNanos the stream's deadline from now, 0 for the pool's {@code call-timeout}
   * @param idempotent whether the caller marked it so
   * @param session the call's session id, or null
   * @param affinity the session's {@code Affinity} by name, or null
   * @param replyTo the caller's directory
   */
  public record Open(String callId, byte[] request, long timeoutNanos, boolean idempotent, String session,
      String affinity, ActorRef<PoolDirectory.Command> replyTo) implements PoolEndpoint.Command, ClusterMessage {}

  /**
   * The caller grants {@code items} more items of the call's start {@code attempt} (grants for an earlier start are
   * void: a retried call starts over with a fresh window).
   */
  public record Demand(int attempt, int items) implements ServedStream.Command, ClusterMessage {}

  /** The caller no longer wants the stream (downstream cancelled, or the caller gave up). */
  public enum Cancel implements ServedStream.Command, ClusterMessage { INSTANCE }

  /** The stream of call {@code callId} is served by {@code stream}, where demand and cancellation go. */
  public record Accepted(String callId, ActorRef<ServedStream.Command> stream)
      implements ToCaller, ClusterMessage {}

  /** The call started on a worker for the {@code attempt}-th time (from 1); a retry's first items come again. */
  public record Started(String callId, int attempt) implements ToCaller, ClusterMessage {}

  /**
   * One item of the call.
   *
   * @param callId the caller's id of the call
   * @param value the item's bytes (JSON text as UTF-8, or the raw bytes)
   * @param bytes whether the item is raw bytes
   */
  public record Item(String callId, byte[] value, boolean bytes) implements ToCaller, ClusterMessage {}

  /**
   * The end of the call, after its items.
   *
   * @param callId the caller's id of the call
   * @param error the typed error, or null when the tool's generator finished
   * @param pool the pool that served it
   * @param node the node that served it
   * @param load that node's pool's load as it ended
   */
  public record End(String callId, RemoteError error, String pool, String node, PoolLoad load)
      implements ToCaller, ClusterMessage {}
}
