"""The multiplexed call channel: one connection from the JVM to the worker's calls socket carries
many one-result calls.

Each message is a CallFrame (JVM to worker) or a ResultFrame (worker to JVM), preceded by its
length as 4 bytes, big-endian. A CallFrame starts a call (its id, its serialized ExecuteRequest,
what is left of its deadline) or cancels one; a ResultFrame answers one, as the call ends.

Why a socket of its own and not a gRPC stream: grpcio's synchronous server hands every message of
a stream between its polling thread, the RPC's thread and the reader, each wake-up under the GIL
(about 146 us of the worker's CPU per call, against about 40 us here: docs/PERFORMANCE.md). Here
the thread that reads a call runs it and writes its answer. Streaming calls, Ping and Shutdown
stay on the gRPC server.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from concurrent import futures
from typing import TYPE_CHECKING, Dict, Optional

from google.protobuf.message import DecodeError

from snakepit_worker._proto import worker_pb2

if TYPE_CHECKING:
    from snakepit_worker.server import WorkerServicer

log = logging.getLogger("snakepit_worker")

# Every frame's length, before it.
LENGTH = struct.Struct(">I")

# Frames larger than this are written in two sends instead of being copied behind their length.
_COPY_LIMIT = 64 * 1024


def _measured_from(sent_at_ns: int) -> float:
    """When the JVM measured a frame's deadline, on this process's monotonic clock: its sent_at_ns (the host's
    CLOCK_MONOTONIC, which time.monotonic reads too), unless that is 0 or a time this clock cannot have seen (over
    a second ago, or ahead of it): then now."""
    now = time.monotonic_ns()
    if 0 < sent_at_ns <= now and now - sent_at_ns < 1_000_000_000:
        return sent_at_ns / 1e9
    return now / 1e9


class StreamedCall:
    """One call of a connection as call.current_call() sees it: its own deadline and cancel."""

    __slots__ = ("_deadline", "_connection", "cancelled")

    def __init__(self, connection: "CallConnection", deadline_us: int, sent_at_ns: int = 0):
        self._deadline = None if deadline_us <= 0 else _measured_from(sent_at_ns) + deadline_us / 1e6
        self._connection = connection
        self.cancelled = False

    def time_remaining(self) -> Optional[float]:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def is_active(self) -> bool:
        if self.cancelled or (self._deadline is not None and time.monotonic() >= self._deadline):
            return False
        return self._connection.is_active()


class CallConnection:
    """The calls in flight on one connection. A tool thread that reads a request hands the reading
    on to another tool thread and runs the call itself, so a call wakes one thread, not two."""

    def __init__(self, servicer: "WorkerServicer", sock: socket.socket, threads: int,
                 max_frame: int, draining: bool):
        self._servicer = servicer
        self._sock = sock
        self._reader = sock.makefile("rb", buffering=_COPY_LIMIT)
        self._max_frame = max_frame
        # One thread more than the tool slots: one is always free to read the next frame (a cancel).
        self._threads = futures.ThreadPoolExecutor(max_workers=threads + 1,
                                                   thread_name_prefix="snakepit-tool")
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._calls: Dict[int, StreamedCall] = {}
        self._reading = True
        self._draining = draining
        self._closed = False

    def start(self) -> None:
        self._threads.submit(self._lead)

    def is_active(self) -> bool:
        return not self._closed

    def drain(self) -> None:
        """The worker is stopping: the connection ends once its calls in flight have."""
        with self._lock:
            self._draining = True
        self._close_if_over()

    def _lead(self) -> None:
        while True:
            frame = self._read_frame()
            if frame is None:
                self._end_reading()
                return
            kind = frame.WhichOneof("kind")
            if kind == "request":
                call_context = StreamedCall(self, frame.deadline_us, frame.sent_at_ns)
                with self._lock:
                    self._calls[frame.id] = call_context
                try:
                    self._threads.submit(self._lead)
                except RuntimeError:  # the connection has ended meanwhile: nobody reads on
                    pass
                response = None
                try:
                    response = self._servicer.answer_frame(frame.request, call_context)
                finally:
                    self._finished(frame.id, response)
                return
            if kind == "cancel":
                with self._lock:
                    cancelled = self._calls.get(frame.id)
                if cancelled is not None:
                    cancelled.cancelled = True

    def _read_frame(self):
        """The next CallFrame, or None once the JVM closed the connection or broke the protocol."""
        try:
            head = self._reader.read(LENGTH.size)
            if len(head) < LENGTH.size:
                return None
            (size,) = LENGTH.unpack(head)
            if size > self._max_frame:
                log.error("the calls socket got a frame of %d bytes, over the limit of %d "
                          "(max-message-size and its margin); closing the connection", size,
                          self._max_frame)
                return None
            data = self._reader.read(size)
            if len(data) < size:
                return None
            return worker_pb2.CallFrame.FromString(data)
        except DecodeError as e:
            log.error("the calls socket got a frame that is not a CallFrame (%s); closing the "
                      "connection", e)
            return None
        except (OSError, ValueError):  # closed under the reader by drain() or a broken peer
            return None

    def _finished(self, call_id: int, response) -> None:
        """Call ``call_id`` ended; nothing is sent for one cancelled or past its deadline (the JVM
        has failed it already)."""
        with self._lock:
            call_context = self._calls.pop(call_id, None)
        if response is not None and call_context is not None and call_context.is_active():
            self._send(worker_pb2.ResultFrame(id=call_id, response=response).SerializeToString())
        self._close_if_over()

    def _send(self, data: bytes) -> None:
        head = LENGTH.pack(len(data))
        try:
            with self._write_lock:
                if len(data) <= _COPY_LIMIT:
                    self._sock.sendall(head + data)
                else:
                    self._sock.sendall(head)
                    self._sock.sendall(data)
        except OSError:
            pass  # the JVM has gone or closed the connection: the reader sees it and ends it

    def _end_reading(self) -> None:
        """The JVM closed the connection (or it broke): every call on it sees cancelled()."""
        with self._lock:
            self._reading = False
            for call_context in self._calls.values():
                call_context.cancelled = True
        self._close_if_over()

    def _close_if_over(self) -> None:
        with self._lock:
            if self._closed or self._calls or (self._reading and not self._draining):
                return
            self._closed = True
        self._servicer.untrack(self)  # before the JVM can see the end
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked on it
        except OSError:
            pass
        self._reader.close()
        self._sock.close()
        self._threads.shutdown(wait=False)


class CallListener:
    """Listens on the worker's calls socket; each connection the JVM opens is a CallConnection."""

    def __init__(self, servicer: "WorkerServicer", path: str, threads: int,
                 max_message_size: Optional[int]):
        from snakepit_worker.server import FRAME_MARGIN_BYTES, claim_socket_path

        self._servicer = servicer
        self._threads = threads
        self._max_frame = (LENGTH_LIMIT if max_message_size is None
                           else max_message_size + FRAME_MARGIN_BYTES)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(claim_socket_path(path))
            self._sock.listen(8)
        except OSError:
            self._sock.close()
            raise

    def start(self) -> None:
        threading.Thread(target=self._accept, name="snakepit-calls-accept", daemon=True).start()
        self._servicer.attach(self)

    def drain(self) -> None:
        """Takes no more connections (those open end as their calls do)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._sock.accept()
            except OSError:  # drained
                return
            connection = CallConnection(self._servicer, sock, self._threads, self._max_frame,
                                        draining=False)
            if self._servicer.track(connection):
                connection.start()
            else:
                connection.drain()


# No frame may be longer than a length field can say.
LENGTH_LIMIT = 2 ** 32 - 1

__all__ = ["CallConnection", "CallListener", "StreamedCall", "LENGTH"]
