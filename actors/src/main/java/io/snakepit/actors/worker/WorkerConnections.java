package io.snakepit.actors.worker;

import io.grpc.ManagedChannel;

/** How a worker actor reaches its Python process once it is ready: the node's transport, given to every worker. */
public interface WorkerConnections {
  /** A gRPC channel to the worker serving on {@code socketPath}, taking replies up to {@code maxMessageSize} bytes. */
  ManagedChannel channel(String socketPath, int maxMessageSize);

  /**
   * Opens a connection to the worker's calls socket at {@code socketPath} (at once; frames sent before it is up wait),
   * taking result frames of up to {@code maxMessageSize} bytes and a margin.
   */
  CallSocket callSocket(String socketPath, int maxMessageSize, CallSocket.Receiver receiver);
}
