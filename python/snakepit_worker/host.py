"""Calls from a tool back into the JVM: the host tools the application registered with
``Snakepit.registerHostTool`` (docs/EMBEDDING.md, "Host tools").

A tool calls one with keyword arguments and gets its JSON result back as Python values::

    from snakepit_worker import host

    @tool
    def price(self, sku):
        rate = host.call("exchange_rate", currency="EUR")
        return {"sku": sku, "eur": 10 * rate["rate"]}

The host call carries what is left of the tool's own deadline (``current_call().time_remaining()``),
and ends early when the tool's call is cancelled: the JVM then cancels the host tool and the pool
calls it made. Every failure is a ``HostError``; its subclasses say which kind.

The worker reaches the JVM on the Unix socket that SNAKEPIT_HOST_SOCKET names (the node sets it
to host.sock in its private run directory).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Optional, Tuple

import grpc

from snakepit_worker._proto import worker_pb2
from snakepit_worker.call import current_call

# The variable naming the JVM's Host socket, set by the node for every worker.
SOCKET_VARIABLE = "SNAKEPIT_HOST_SOCKET"

# How often a waiting host call checks whether the tool's own call was cancelled.
_POLL_SECONDS = 0.05

_METHOD = "/snakepit.v1.Host/Call"


class HostError(Exception):
    """A host call that failed. ``tool`` is the host tool, ``type`` the kind (HostError.type on the wire)."""

    def __init__(self, tool: str, error_type: str, message: str):
        super().__init__("host tool '%s': %s" % (tool, message))
        self.tool = tool
        self.type = error_type
        self.message = message


class UnknownHostTool(HostError):
    """No host tool of that name is registered; ``available_tools`` lists those that are."""

    def __init__(self, tool: str, message: str, available_tools: Tuple[str, ...]):
        super().__init__(tool, "snakepit.UnknownHostTool", message)
        self.available_tools = available_tools


class HostToolFailed(HostError):
    """The host tool's handler threw, or its stage failed: ``java_type`` is the exception's class
    (e.g. ``io.snakepit.PythonException`` for a pool call it made that raised), ``trace`` its stack trace."""

    def __init__(self, tool: str, java_type: str, message: str, trace: str = ""):
        super().__init__(tool, java_type, "%s: %s" % (java_type, message))
        self.java_type = java_type
        self.java_message = message
        self.trace = trace


class InvalidHostArguments(HostError):
    """The host tool could not take the arguments (its typed handler's class does not fit them)."""


class HostBusy(HostError):
    """The node has snakepit.host-tools.max-calls host calls in flight; this one was not started."""


class HostDeadlineExceeded(HostError):
    """The tool's deadline, which the host call carries, passed before the host tool answered."""


class HostCallCancelled(HostError):
    """The tool's own call was cancelled, so its host call was too."""


class HostUnavailable(HostError):
    """The JVM's Host socket is not known or not reachable."""


_ERRORS = {
    "snakepit.InvalidArguments": InvalidHostArguments,
    "snakepit.HostBusy": HostBusy,
}

_lock = threading.Lock()
# (pid, socket path, callable): a forked child or a changed variable gets a channel of its own.
_channel: Optional[Tuple[int, str, Any]] = None


def call(tool: str, /, **kwargs: Any) -> Any:
    """Calls host tool ``tool`` with ``kwargs`` as its JSON arguments and returns its result.

    Raises a ``HostError`` subclass: ``UnknownHostTool``, ``HostToolFailed``, ``InvalidHostArguments``,
    ``HostBusy``, ``HostDeadlineExceeded``, ``HostCallCancelled`` or ``HostUnavailable``; and
    ``TypeError`` before sending anything if ``kwargs`` are not JSON values.
    """
    try:
        args_json = json.dumps(kwargs) if kwargs else ""
    except (TypeError, ValueError) as e:
        raise TypeError("host tool '%s': its arguments cannot be sent as JSON (%s); pass JSON values "
                        "(dict, list, str, int, float, bool, None)" % (tool, e)) from e
    running = current_call()
    remaining = running.time_remaining()
    if remaining is not None and remaining <= 0:
        raise HostDeadlineExceeded(tool, "deadline", "the calling tool's deadline has passed; nothing was sent")
    if running.cancelled():
        raise HostCallCancelled(tool, "cancelled", "the calling tool's call was cancelled; nothing was sent")
    request = worker_pb2.HostCallRequest(tool=tool, args_json=args_json, call_id=running.call_id,
                                         worker_id=os.environ.get("SNAKEPIT_WORKER_ID", ""),
                                         deadline_ns=0 if remaining is None
                                         else time.monotonic_ns() + int(remaining * 1e9))
    future = _stub(tool).future(request, timeout=remaining)
    while True:
        try:
            response = future.result(timeout=_POLL_SECONDS)
            break
        except grpc.FutureTimeoutError:
            if running.cancelled():
                future.cancel()
                left = running.time_remaining()
                if left is not None and left <= 0:
                    raise HostDeadlineExceeded(tool, "deadline", _deadline_message(remaining)) from None
                raise HostCallCancelled(tool, "cancelled", "the calling tool's call was cancelled; the host call"
                                        " was cancelled with it") from None
        except grpc.FutureCancelledError:
            raise HostCallCancelled(tool, "cancelled", "the host call was cancelled") from None
        except grpc.RpcError as e:
            raise _rpc_error(tool, e, remaining) from None
    if response.HasField("error"):
        raise _error(tool, response.error)
    return json.loads(response.json) if response.json else None


def _stub(tool: str):
    global _channel
    path = os.environ.get(SOCKET_VARIABLE, "")
    if not path:
        raise HostUnavailable(tool, "unavailable", "%s is not set, so this process cannot reach the JVM; host tools"
                              " are called from a worker the node started (or set %s to the node's host.sock)"
                              % (SOCKET_VARIABLE, SOCKET_VARIABLE))
    with _lock:
        if _channel is None or _channel[0] != os.getpid() or _channel[1] != path:
            channel = grpc.insecure_channel("unix:" + path, options=[
                ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
            method = channel.unary_unary(_METHOD, request_serializer=worker_pb2.HostCallRequest.SerializeToString,
                                         response_deserializer=worker_pb2.HostCallResponse.FromString)
            _channel = (os.getpid(), path, method)
        return _channel[2]


def _deadline_message(remaining: Optional[float]) -> str:
    return ("the calling tool's deadline (%.3f s left when the host call started) passed before the host tool"
            " answered; the JVM cancelled it" % (remaining or 0.0))


def _rpc_error(tool: str, e: grpc.RpcError, remaining: Optional[float]) -> HostError:
    code = e.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return HostDeadlineExceeded(tool, "deadline", _deadline_message(remaining))
    if code == grpc.StatusCode.CANCELLED:
        return HostCallCancelled(tool, "cancelled", "the host call was cancelled: %s" % e.details())
    if code == grpc.StatusCode.UNAVAILABLE:
        return HostUnavailable(tool, "unavailable", "cannot reach the JVM at %s=%s: %s; is the node still running?"
                               % (SOCKET_VARIABLE, os.environ.get(SOCKET_VARIABLE, ""), e.details()))
    return HostError(tool, "grpc." + code.name, e.details() or code.name)


def _error(tool: str, error) -> HostError:
    if error.type == "snakepit.UnknownHostTool":
        return UnknownHostTool(tool, error.message, tuple(error.available_tools))
    kind = _ERRORS.get(error.type)
    if kind is not None:
        return kind(tool, error.type, error.message)
    return HostToolFailed(tool, error.type, error.message, error.trace)
