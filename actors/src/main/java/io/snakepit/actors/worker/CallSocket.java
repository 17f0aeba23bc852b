package io.snakepit.actors.worker;

import io.snakepit.proto.CallFrame;
import io.snakepit.proto.ResultFrame;

/**
 * A connection to a worker's calls socket: {@link CallFrame}s go out and {@link ResultFrame}s come back, each behind
 * its length (4 bytes, big-endian). Many one-result calls share it; see the worker's {@code call_socket.py}.
 */
public interface CallSocket {
  /** Sends {@code frame}; from any thread, frames sent by one thread keep their order. Dropped once closed. */
  void send(CallFrame frame);

  /** Closes the connection; the receiver then hears {@link Receiver#closed}. */
  void close();

  /** Hears a connection's frames and its end, on the connection's I/O thread: it must only hand them on. */
  interface Receiver {
    void received(ResultFrame frame);

    /**
     * The connection ended, or never opened: {@code cause} says why (an I/O error, an oversized frame), or is null when
     * the worker closed it (it is stopping).
     */
    void closed(Throwable cause);
  }
}
