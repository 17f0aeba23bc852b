"""The call a tool is serving: its deadline and whether its caller is still waiting.

A tool reads it with ``snakepit_worker.current_call()``. Long tools should check ``cancelled()``
now and then (or wait with ``sleep()``), so that a call the JVM cancelled, or whose deadline
passed, stops using the worker.

``current_call().traceparent`` is the call's W3C trace context, as the JVM sent it (the
``traceparent`` header value ``00-<trace id>-<span id>-<flags>`` of the node's span for the call):
a tool can pass it on to services it calls. It is the empty string when the call is not traced.
"""

import threading
import time
from typing import Optional

_local = threading.local()

# More seconds than any real deadline (about three years).
_NO_DEADLINE = 1e8


class CallContext:
    """The running call, as the tool sees it."""

    def __init__(self, grpc_context=None, call_id: str = "", traceparent: str = ""):
        self._grpc = grpc_context
        self.call_id = call_id
        # The W3C traceparent of the call; "" when it is not traced.
        self.traceparent = traceparent

    def time_remaining(self) -> Optional[float]:
        """Seconds until the caller's deadline, or None if the call has none."""
        if self._grpc is None:
            return None
        remaining = self._grpc.time_remaining()
        # Without a deadline grpcio reports the seconds to the end of its clock, about 9e18.
        return None if remaining is None or remaining > _NO_DEADLINE else remaining

    def cancelled(self) -> bool:
        """Whether the caller gave up: it cancelled, or the deadline passed."""
        return self._grpc is not None and not self._grpc.is_active()

    def sleep(self, seconds: float) -> bool:
        """Sleeps up to ``seconds``, waking early if the call is cancelled; True if it slept it all."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            if self.cancelled():
                return False
            time.sleep(min(left, 0.05))


_NO_CALL = CallContext()


def current_call() -> CallContext:
    """The call this thread is serving (a context with no deadline outside a call)."""
    return getattr(_local, "call", _NO_CALL)


def _enter(grpc_context, call_id: str, traceparent: str = "") -> None:
    _local.call = CallContext(grpc_context, call_id, traceparent)


def _leave() -> None:
    _local.call = _NO_CALL
