package io.snakepit;

/**
 * The cluster node serving the call was lost (it left the cluster, or was downed) before it answered. The call may or
 * may not have run there; its worker died with that node. Calls marked idempotent ({@link CallOptions#withIdempotent})
 * are retried on another node instead, and fail with this only when no node of the pool is left.
 */
public final class NodeLostException extends SnakepitException {
  private static final long serialVersionUID = 1L;
  private final String node;

  public NodeLostException(String node, String message) {
    super(message);
    this.node = node;
  }

  /** The lost node's cluster address, {@code SYSTEM@HOST:PORT}. */
  public String node() {
    return node;
  }
}
