"""The worker's service: Execute and ExecuteStream (gRPC) and the calls socket (call_socket.py)
run the adapter's tools; Ping; Shutdown."""

from __future__ import annotations

import inspect
import json
import logging
import os
import stat
import threading
import time
import traceback
from concurrent import futures
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import grpc
from google.protobuf.message import DecodeError

try:
    from snakepit_worker._proto import worker_pb2
except ImportError as e:
    raise ImportError(
        "the generated gRPC stubs (snakepit_worker._proto) cannot be imported: %s. Assemble the "
        "package with python/build-python.sh PROTOC OUT_DIR and put OUT_DIR on PYTHONPATH" % e
    ) from e

from snakepit_worker import call
from snakepit_worker.adapter import Adapter, describe_signature, qualified_type_name

log = logging.getLogger("snakepit_worker")

# Error types the worker raises on the caller's behalf (PythonError.type).
UNKNOWN_TOOL = "snakepit.UnknownTool"
INVALID_ARGUMENTS = "snakepit.InvalidArguments"
UNSERIALIZABLE_RESULT = "snakepit.UnserializableResult"
MESSAGE_TOO_LARGE = "snakepit.MessageTooLarge"

# Threads beyond --threads, so Ping and Shutdown are answered while every tool thread is busy.
CONTROL_THREADS = 4

# Unix socket paths are limited by sockaddr_un.sun_path (108 bytes with the terminating NUL).
MAX_SOCKET_PATH_BYTES = 107

# Room for a call frame's id and tags around a message of the pool's max-message-size.
FRAME_MARGIN_BYTES = 1024

# How often a call waiting for a free tool thread checks whether its caller has gone.
_SLOT_POLL_SECONDS = 0.25


_SERVICERS: "list[WorkerServicer]" = []

# snakepit_worker.tracing once imported, False when opentelemetry is not importable, None before the first traced call.
_tracing: Any = None


def _tracing_module():
    """The tracing helper, imported at the first traced call (opentelemetry is optional and slow to import)."""
    global _tracing
    if _tracing is None:
        try:
            from snakepit_worker import tracing as module
            _tracing = module
        except ImportError:
            _tracing = False
        except Exception as e:  # noqa: B902 - a broken opentelemetry install must not fail the calls
            log.warning("tracing is off: opentelemetry is installed but cannot be used (%s: %s); the tools still"
                        " read current_call().traceparent", type(e).__name__, e)
            _tracing = False
    return _tracing


def _call_span(request):
    """A context manager running a SERVER span for the call, child of its traceparent; None when untraced."""
    if not request.traceparent:
        return None
    module = _tracing_module()
    return module.current_span(request.tool, request.call_id, request.traceparent) if module else None


def _stream_span(request):
    """A started SERVER span for a streaming call, child of its traceparent; None when untraced."""
    if not request.traceparent:
        return None
    module = _tracing_module()
    return module.start_span(request.tool, request.call_id, request.traceparent) if module else None


def _span_outcome(span, response, finished: bool = True) -> None:
    error = response is not None and response.HasField("error")
    _tracing.outcome(span, response.error.type if error else None, finished)


def open_calls_streams() -> int:
    """How many calls-socket connections this process's worker service has open."""
    return sum(servicer.calls_streams() for servicer in list(_SERVICERS))


class _CallError(Exception):
    """Ends a call with an error response the worker made itself."""

    def __init__(self, error_type: str, message: str, available_tools: Tuple[str, ...] = ()):
        super().__init__(message)
        self.response = worker_pb2.ExecuteResponse(error=worker_pb2.PythonError(
            type=error_type, message=_utf8_safe(message), available_tools=available_tools))


class _MalformedRequest:
    """A request that protobuf could not parse; the call is answered with INVALID_ARGUMENTS."""

    def __init__(self, problem: str):
        self.problem = problem


def _parse_request(data: bytes):
    """ExecuteRequest.FromString that, instead of failing the RPC, hands on what was wrong."""
    try:
        return worker_pb2.ExecuteRequest.FromString(data)
    except DecodeError as e:
        bad = _undecodable_string(data)
        if bad is None:
            return _MalformedRequest("the request is not a valid ExecuteRequest (%s)" % e)
        name, number, offset = bad
        return _MalformedRequest(
            "the request's %s (field %d) is not valid UTF-8 (byte %d of the field); protobuf "
            "string fields must be UTF-8: send text as UTF-8, binary data as the payload"
            % (name, number, offset))


def _undecodable_string(data: bytes) -> Optional[Tuple[str, int, int]]:
    """The first top-level string field of an ExecuteRequest that is not UTF-8: name, number, offset."""
    fields = worker_pb2.ExecuteRequest.DESCRIPTOR.fields_by_number
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == 0:
                _, pos = _varint(data, pos)
            elif wire_type in (1, 5):
                pos += 8 if wire_type == 1 else 4
            elif wire_type == 2:
                size, pos = _varint(data, pos)
                chunk, pos = data[pos:pos + size], pos + size
                field = fields.get(number)
                if field is not None and field.type == field.TYPE_STRING:
                    try:
                        chunk.decode("utf-8")
                    except UnicodeDecodeError as e:
                        return field.name, number, e.start
            else:
                return None
    except IndexError:
        return None
    return None


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


class _Tool:
    """One tool, bound to the adapter instance, with its signature for argument checks."""

    def __init__(self, name: str, function: Callable[..., Any]):
        self.name = name
        self.function = function
        try:
            self.signature: Optional[inspect.Signature] = inspect.signature(function)
        except (TypeError, ValueError):
            self.signature = None


class WorkerServicer:
    """Serves one adapter instance. At most ``threads`` tool calls run at once; more wait."""

    def __init__(self, adapter: Adapter, adapter_spec: str, threads: int,
                 request_stop: Callable[[Optional[float], str], None],
                 max_message_size: Optional[int] = None):
        self._adapter = adapter
        self._max_message_size = max_message_size
        self._spec = adapter_spec
        self._tools: Dict[str, _Tool] = {
            name: _Tool(name, adapter.bound_tool(name)) for name in adapter.tool_names()}
        self._slots = threading.BoundedSemaphore(threads)
        self._threads = threads
        self._request_stop = request_stop
        self._streams_lock = threading.Lock()
        self._streams: set = set()
        self._listeners: list = []
        self._draining = False

    # --- RPCs -------------------------------------------------------------------------------

    def Execute(self, request, context):
        response = self._answer(request, context)
        # None: the caller has gone, and nobody reads this.
        return worker_pb2.ExecuteResponse() if response is None else response

    def _answer(self, request, context):
        """A one-result call, as Execute and the calls socket both run it; None if its caller has gone."""
        if isinstance(request, _MalformedRequest):
            return _CallError(INVALID_ARGUMENTS, request.problem).response
        if not self._take_slot(context):
            return None
        call._enter(context, request.call_id, request.traceparent)
        try:
            span = _call_span(request)
            if span is None:
                response = self._within_limit(request.tool, self._execute(request))
            else:
                with span as current:
                    response = self._within_limit(request.tool, self._execute(request))
                    _span_outcome(current, response)
        finally:
            call._leave()
            self._slots.release()
        _log_outcome(request, response, 1)
        return response

    def ExecuteStream(self, request, context):
        if isinstance(request, _MalformedRequest):
            yield _CallError(INVALID_ARGUMENTS, request.problem).response
            return
        if not self._take_slot(context):
            return
        count, response, finished = 0, None, False
        call._enter(context, request.call_id, request.traceparent)
        # A generator's frames may resume on other threads: its span is started and ended here, not made current.
        span = _stream_span(request)
        responses = self._execute_stream(request, context)
        try:
            for response in responses:
                count += 1
                response = self._within_limit(request.tool, response)
                yield response
                if response.HasField("error"):
                    break
            finished = True
        finally:
            responses.close()  # after an item over the limit: runs the tool's finally blocks
            if span is not None:
                _span_outcome(span, response, finished)
                span.end()
            call._leave()
            self._slots.release()
            _log_outcome(request, response, count, finished)

    def answer_frame(self, data: bytes, context):
        """A call of the calls socket (call_socket.py): ``data`` is its serialized request."""
        return self._answer(_parse_request(data), context)

    def track(self, connection) -> bool:
        """Counts a calls-socket connection as open; False when the worker is already draining."""
        with self._streams_lock:
            if self._draining:
                return False
            self._streams.add(connection)
            return True

    def untrack(self, connection) -> None:
        with self._streams_lock:
            self._streams.discard(connection)

    def attach(self, listener) -> None:
        """A calls-socket listener, to stop taking connections at drain()."""
        with self._streams_lock:
            self._listeners.append(listener)

    def calls_streams(self) -> int:
        """How many calls-socket connections are open (one per JVM channel: many calls share it)."""
        with self._streams_lock:
            return len(self._streams)

    def drain(self) -> None:
        """The server is stopping: no more connections to the calls socket, and each open one ends
        once its calls in flight have (so the stop's grace is not spent waiting on an idle one)."""
        with self._streams_lock:
            self._draining = True
            streams = list(self._streams) + list(self._listeners)
        for stream in streams:
            stream.drain()

    def _execute(self, request):
        try:
            tool, kwargs = self._prepare(request)
            result = tool.function(**kwargs)
            if inspect.isgenerator(result):  # a streaming tool called once: all its values
                result = list(result)
            return self._value_response(tool, result)
        except _CallError as e:
            return e.response
        except BaseException as e:  # noqa: B902 - a tool's sys.exit() ends the call, not the worker
            return _exception_response(e)

    def _execute_stream(self, request, context):
        try:
            tool, kwargs = self._prepare(request)
            result = tool.function(**kwargs)
            if not inspect.isgenerator(result):
                result = iter((result,))
        except _CallError as e:
            yield e.response
            return
        except BaseException as e:  # noqa: B902
            yield _exception_response(e)
            return
        try:
            for response in self._stream_responses(tool, result, context):
                yield response
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # runs the tool's finally blocks when the caller went away

    def Ping(self, request, context):
        return worker_pb2.PingResponse(
            pid=os.getpid(), adapter=self._spec, tools=self._adapter.tool_names())

    def Shutdown(self, request, context):
        grace = request.grace_ms / 1000.0 if request.grace_ms > 0 else None
        reason = "Shutdown request"

        def stop() -> None:
            self._request_stop(grace, reason)

        # Stop once this call has ended, so its reply is on the wire before the server stops.
        if not context.add_callback(stop):
            stop()
        return worker_pb2.ShutdownResponse()

    def Snapshot(self, request, context):
        """The adapter's snapshot(), taken once every tool call in flight has ended (none starts
        meanwhile), so it sees the state between calls. An adapter without snapshot() answers
        supported=false."""
        snapshot = getattr(self._adapter, "snapshot", None)
        if snapshot is None:
            return worker_pb2.SnapshotResponse(supported=False)
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        taken = 0
        try:
            for _ in range(self._threads):
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._slots.acquire(timeout=left):
                    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  "tool calls still ran when the snapshot's deadline passed")
                taken += 1
            try:
                state = snapshot()
            except Exception as e:  # noqa: B902 - the adapter's own error, reported to the JVM
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, _clip(
                    "%s.snapshot() raised %s: %s" % (type(self._adapter).__name__,
                                                     type(e).__name__, e), 1000))
            if not isinstance(state, dict):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              "%s.snapshot() returned a JSON %s, not a dict: return the state as a dict "
                              "of JSON values" % (type(self._adapter).__name__,
                                                  _json_kind(state)))
            try:
                data = json.dumps(state, default=self._adapter.json_default).encode("utf-8")
            except (TypeError, ValueError) as e:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              "%s.snapshot() returned a dict JSON cannot hold: %s (convert the "
                              "value, or override json_default)" % (type(self._adapter).__name__,
                                                                     e))
            return worker_pb2.SnapshotResponse(supported=True, state_json=data)
        finally:
            for _ in range(taken):
                self._slots.release()

    # --- helpers ----------------------------------------------------------------------------

    def _within_limit(self, tool_name: str, response):
        """The response, or a MessageTooLarge error in its place when it is over the limit."""
        if self._max_message_size is None:
            return response
        size = response.ByteSize()
        if size <= self._max_message_size:
            return response
        what = "a result" if response.HasField("value") else "an error (%s)" % response.error.type
        return _CallError(
            MESSAGE_TOO_LARGE,
            "tool '%s' returned %s of %s, over the pool's max-message-size of %s; the tool ran, "
            "but its answer was not sent. Return less (stream it in parts), or raise "
            "max-message-size in the pool's settings (snakepit.pools.%s.max-message-size)"
            % (tool_name, what, _describe_size(size), _describe_size(self._max_message_size),
               os.environ.get("SNAKEPIT_POOL", "<pool>"))
        ).response

    def _take_slot(self, context) -> bool:
        while not self._slots.acquire(timeout=_SLOT_POLL_SECONDS):
            if not context.is_active():
                return False
        return True

    def _prepare(self, request) -> Tuple[_Tool, Dict[str, Any]]:
        tool = self._tools.get(request.tool)
        if tool is None:
            names = tuple(self._adapter.tool_names())
            raise _CallError(
                UNKNOWN_TOOL,
                "unknown tool '%s'; this adapter (%s) has: %s"
                % (request.tool, self._spec, ", ".join(names) or "no tools"),
                available_tools=names)
        kwargs = _parse_arguments(tool.name, request.args_json)
        if request.has_payload:
            if "payload" in kwargs:
                raise _CallError(
                    INVALID_ARGUMENTS,
                    "tool '%s': 'payload' is given both in args_json and as raw bytes; "
                    "send it once" % tool.name)
            kwargs["payload"] = bytes(request.payload)
        if tool.signature is not None:
            try:
                tool.signature.bind(**kwargs)
            except TypeError as e:
                raise _CallError(
                    INVALID_ARGUMENTS, "tool '%s%s' cannot take the arguments %s: %s"
                    % (tool.name, describe_signature(tool.function), sorted(kwargs), e))
        return tool, kwargs

    def _stream_responses(self, tool: _Tool, values: Iterator[Any], context):
        while True:
            if not context.is_active():
                log.debug("tool '%s': the caller cancelled the stream", tool.name)
                return
            try:
                value = next(values)
            except StopIteration:
                return
            except BaseException as e:  # noqa: B902
                yield _exception_response(e)
                return
            try:
                yield self._value_response(tool, value)
            except _CallError as e:
                yield e.response
                return

    def _value_response(self, tool: _Tool, value: Any):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return worker_pb2.ExecuteResponse(value=worker_pb2.Value(raw=bytes(value)))
        try:
            text = json.dumps(value, default=self._adapter.json_default, allow_nan=False,
                              ensure_ascii=False)
        except (TypeError, ValueError, OverflowError, RecursionError) as e:
            raise _CallError(
                UNSERIALIZABLE_RESULT,
                "tool '%s' returned a value of type %s that JSON cannot encode (%s); return "
                "bytes, or dict, list, str, int, float (finite), bool or None, or override "
                "Adapter.json_default" % (tool.name, qualified_type_name(type(value)), e))
        return worker_pb2.ExecuteResponse(value=worker_pb2.Value(json=_utf8_safe(text)))


def _log_outcome(request, last_response, count: int, finished: bool = True) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    if last_response is not None and last_response.HasField("error"):
        outcome = "%s: %s" % (last_response.error.type, last_response.error.message)
    elif not finished:
        outcome = "cut short: the caller cancelled or went away"
    else:
        outcome = "ok"
    log.debug("call %s: tool '%s', %d message(s), %s",
              request.call_id or "-", request.tool, count, outcome)


def _parse_arguments(tool_name: str, args_json: str) -> Dict[str, Any]:
    if not args_json.strip():
        return {}
    try:
        arguments = json.loads(args_json)
    except ValueError as e:
        raise _CallError(
            INVALID_ARGUMENTS, "tool '%s': args_json is not valid JSON (%s): %s"
            % (tool_name, e, _clip(args_json)))
    if not isinstance(arguments, dict):
        raise _CallError(
            INVALID_ARGUMENTS, "tool '%s': args_json must be a JSON object of keyword "
            "arguments, got a JSON %s: %s" % (tool_name, _json_kind(arguments), _clip(args_json)))
    return arguments


def _exception_response(error: BaseException):
    try:
        message = str(error)
    except Exception:  # an exception whose __str__ raises
        message = "<unprintable %s>" % type(error).__name__
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == __name__:
        tb = tb.tb_next  # the worker's own frames tell the caller nothing
    formatted = "".join(traceback.format_exception(type(error), error, tb))
    return worker_pb2.ExecuteResponse(error=worker_pb2.PythonError(
        type=qualified_type_name(type(error)), message=_utf8_safe(message),
        traceback=_utf8_safe(formatted)))


def _utf8_safe(text: str) -> str:
    """Protobuf strings must be valid UTF-8; Python strings may hold lone surrogates."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe_size(size: int) -> str:
    return "%d bytes (%.1f MiB)" % (size, size / 1048576.0)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _clip(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class SocketError(Exception):
    """The server cannot listen on the requested Unix socket path."""


def claim_socket_path(socket_path: str) -> str:
    """The absolute path, checked to fit a Unix socket address; a stale socket there is removed,
    any other kind of file is left alone (SocketError)."""
    path = os.path.abspath(socket_path)
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise SocketError(
            "socket path %s is %d bytes long; a Unix socket path may have at most %d: use a "
            "shorter run directory" % (path, size, MAX_SOCKET_PATH_BYTES))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISSOCK(mode):
        raise SocketError(
            "socket path %s exists and is not a socket; refusing to replace it" % path)
    os.unlink(path)
    return path


def build_server(servicer: WorkerServicer, socket_path: str, threads: int,
                 max_message_size: Optional[int] = None) -> grpc.Server:
    """A gRPC server bound (not yet started) to ``unix:socket_path``.

    A stale socket file at the path is removed first; any other kind of file is left alone.
    Messages are limited to ``max_message_size`` bytes each way (None: no limit).
    """
    path = claim_socket_path(socket_path)
    limit = -1 if max_message_size is None else max_message_size + FRAME_MARGIN_BYTES
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=threads + CONTROL_THREADS, thread_name_prefix="snakepit-rpc"),
        options=[("grpc.max_send_message_length", limit),
                 ("grpc.max_receive_message_length", limit)])
    _add_servicer(servicer, server)
    _SERVICERS.append(servicer)
    stop = server.stop

    def drain_then_stop(grace):
        servicer.drain()
        return stop(grace)

    server.stop = drain_then_stop  # calls-socket connections end when idle, not at the grace's end
    try:
        bound = server.add_insecure_port("unix:" + path)
    except RuntimeError as e:  # newer grpcio raises instead of returning 0
        raise SocketError("cannot listen on unix:%s: %s" % (path, e)) from e
    if bound == 0:
        raise SocketError("cannot listen on unix:%s (does its directory exist and is it "
                          "writable?)" % path)
    return server


def _add_servicer(servicer: WorkerServicer, server: grpc.Server) -> None:
    """Registers the Worker service's methods. Built here, not by grpc_tools' generated
    worker_pb2_grpc (which demands a grpcio at least as new as the one that generated it), and a
    request that protobuf cannot parse reaches the servicer as a _MalformedRequest instead of
    failing the RPC with a logged error."""
    respond = worker_pb2.ExecuteResponse.SerializeToString
    handlers = {
        "Execute": grpc.unary_unary_rpc_method_handler(
            servicer.Execute, request_deserializer=_parse_request, response_serializer=respond),
        "ExecuteStream": grpc.unary_stream_rpc_method_handler(
            servicer.ExecuteStream, request_deserializer=_parse_request,
            response_serializer=respond),
        "Ping": grpc.unary_unary_rpc_method_handler(
            servicer.Ping, request_deserializer=worker_pb2.PingRequest.FromString,
            response_serializer=worker_pb2.PingResponse.SerializeToString),
        "Snapshot": grpc.unary_unary_rpc_method_handler(
            servicer.Snapshot, request_deserializer=worker_pb2.SnapshotRequest.FromString,
            response_serializer=worker_pb2.SnapshotResponse.SerializeToString),
        "Shutdown": grpc.unary_unary_rpc_method_handler(
            servicer.Shutdown, request_deserializer=worker_pb2.ShutdownRequest.FromString,
            response_serializer=worker_pb2.ShutdownResponse.SerializeToString),
    }
    service = worker_pb2.DESCRIPTOR.services_by_name["Worker"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
