"""The worker's gRPC service: Execute, ExecuteStream and Calls run the adapter's tools; Ping; Shutdown."""

from __future__ import annotations

import inspect
import json
import logging
import os
import queue
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

# Room for a Calls frame's id and tags around a message of the pool's max-message-size.
FRAME_MARGIN_BYTES = 1024

# How often a call waiting for a free tool thread checks whether its caller has gone.
_SLOT_POLL_SECONDS = 0.25


_SERVICERS: "list[WorkerServicer]" = []


def open_calls_streams() -> int:
    """How many Calls streams this process's worker service has open."""
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
        self._streams: "set[_CallStream]" = set()
        self._draining = False

    # --- RPCs -------------------------------------------------------------------------------

    def Execute(self, request, context):
        response = self._answer(request, context)
        # None: the caller has gone, and nobody reads this.
        return worker_pb2.ExecuteResponse() if response is None else response

    def _answer(self, request, context):
        """A one-result call, as Execute and a Calls stream both run it; None if its caller has gone."""
        if isinstance(request, _MalformedRequest):
            return _CallError(INVALID_ARGUMENTS, request.problem).response
        if not self._take_slot(context):
            return None
        call._enter(context, request.call_id)
        try:
            response = self._within_limit(request.tool, self._execute(request))
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
        call._enter(context, request.call_id)
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
            call._leave()
            self._slots.release()
            _log_outcome(request, response, count, finished)

    def Calls(self, frames, context):
        """Many calls on one stream, run on the stream's tool threads; each result goes out as its
        call ends. Ends when the JVM closes it, or once idle after drain()."""
        # One thread more than the tool slots: one is always free to read the next frame (a cancel).
        threads = futures.ThreadPoolExecutor(max_workers=self._threads + 1,
                                             thread_name_prefix="snakepit-tool")
        with self._streams_lock:
            stream = _CallStream(self, context, iter(frames), threads, self._draining)
            self._streams.add(stream)
        try:
            threads.submit(stream.lead)
            yield from stream.results()
        finally:
            with self._streams_lock:
                self._streams.discard(stream)
            threads.shutdown(wait=False)

    def calls_streams(self) -> int:
        """How many Calls streams are open (one per JVM channel: many calls share it)."""
        with self._streams_lock:
            return len(self._streams)

    def drain(self) -> None:
        """The server is stopping: each Calls stream ends once its calls in flight have (so the
        stop's grace is not spent waiting on an idle stream)."""
        with self._streams_lock:
            self._draining = True
            streams = list(self._streams)
        for stream in streams:
            stream.drain()

    def _run_streamed(self, stream: "_CallStream", call_id: int, data: bytes,
                      context: "_StreamedCall") -> None:
        """One call of a Calls stream, on a tool thread: as Execute, answered with a ResultFrame."""
        response = None
        try:
            response = self._answer(_parse_request(data), context)
        finally:
            stream.finished(call_id, response)

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


class _StreamedCall:
    """One call of a Calls stream as call.current_call() sees it: its own deadline and cancel."""

    __slots__ = ("_deadline", "_stream", "cancelled")

    def __init__(self, stream_context, deadline_us: int):
        self._deadline = None if deadline_us <= 0 else time.monotonic() + deadline_us / 1e6
        self._stream = stream_context
        self.cancelled = False

    def time_remaining(self) -> Optional[float]:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def is_active(self) -> bool:
        if self.cancelled or (self._deadline is not None and time.monotonic() >= self._deadline):
            return False
        return self._stream.is_active()


# Wakes a Calls stream's writer to check whether the stream is over.
_WAKE = object()


class _CallStream:
    """The calls in flight on one Calls stream and the results waiting to be sent."""

    def __init__(self, servicer: WorkerServicer, context, frames: Iterator[Any],
                 threads: futures.ThreadPoolExecutor, draining: bool):
        self._servicer = servicer
        self._context = context
        self._frames = frames
        self._threads = threads
        self._lock = threading.Lock()
        self._calls: Dict[int, _StreamedCall] = {}
        self._out: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._reading = True
        self._draining = draining

    def lead(self) -> None:
        """On a tool thread: reads frames until one starts a call, hands the reading on to another
        tool thread and runs that call here (the call's request wakes one thread, not two)."""
        while True:
            try:
                frame = next(self._frames)
            except (StopIteration, grpc.RpcError):
                # Half-closed by the JVM, or cancelled, or it went away: its calls see cancelled().
                self._end_reading()
                return
            kind = frame.WhichOneof("kind")
            if kind == "request":
                call_context = _StreamedCall(self._context, frame.deadline_us)
                with self._lock:
                    self._calls[frame.id] = call_context
                try:
                    self._threads.submit(self.lead)
                except RuntimeError:  # the stream has ended meanwhile: nobody reads on
                    pass
                self._servicer._run_streamed(self, frame.id, frame.request, call_context)
                return
            if kind == "cancel":
                with self._lock:
                    cancelled = self._calls.get(frame.id)
                if cancelled is not None:
                    cancelled.cancelled = True

    def _end_reading(self) -> None:
        with self._lock:
            self._reading = False
            for call_context in self._calls.values():
                call_context.cancelled = True
        self._out.put(_WAKE)

    def finished(self, call_id: int, response) -> None:
        """Call ``call_id`` ended; nothing is sent for one cancelled or past its deadline (the JVM
        has failed it already)."""
        with self._lock:
            call_context = self._calls.pop(call_id, None)
        if response is not None and call_context is not None and call_context.is_active():
            self._out.put(worker_pb2.ResultFrame(id=call_id, response=response))
        else:
            self._out.put(_WAKE)

    def drain(self) -> None:
        with self._lock:
            self._draining = True
        self._out.put(_WAKE)

    def _over(self) -> bool:
        with self._lock:
            return not self._calls and (self._draining or not self._reading)

    def results(self) -> Iterator[Any]:
        """The writer (gRPC's thread for the RPC): yields each result as its call ends."""
        while True:
            item = self._out.get()
            if item is not _WAKE:
                yield item
            elif not self._context.is_active():
                return
            if self._over():
                return


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


def build_server(servicer: WorkerServicer, socket_path: str, threads: int,
                 max_message_size: Optional[int] = None) -> grpc.Server:
    """A gRPC server bound (not yet started) to ``unix:socket_path``.

    A stale socket file at the path is removed first; any other kind of file is left alone.
    Messages are limited to ``max_message_size`` bytes each way (None: no limit).
    """
    path = os.path.abspath(socket_path)
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise SocketError(
            "socket path %s is %d bytes long; a Unix socket path may have at most %d: use a "
            "shorter run directory" % (path, size, MAX_SOCKET_PATH_BYTES))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise SocketError(
                "socket path %s exists and is not a socket; refusing to replace it" % path)
        os.unlink(path)
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

    server.stop = drain_then_stop  # Calls streams end when idle instead of holding the grace
    try:
        bound = server.add_insecure_port("unix:" + path)
    except RuntimeError as e:  # newer grpcio raises instead of returning 0
        raise SocketError("cannot listen on unix:%s: %s" % (path, e)) from e
    if bound == 0:
        raise SocketError("cannot listen on unix:%s (does its directory exist and is it "
                          "writable?)" % path)
    return server


def _add_servicer(servicer: WorkerServicer, server: grpc.Server) -> None:
    """Registers the Worker service's five methods. Built here, not by grpc_tools' generated
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
        "Calls": grpc.stream_stream_rpc_method_handler(
            servicer.Calls, request_deserializer=worker_pb2.CallFrame.FromString,
            response_serializer=worker_pb2.ResultFrame.SerializeToString),
        "Ping": grpc.unary_unary_rpc_method_handler(
            servicer.Ping, request_deserializer=worker_pb2.PingRequest.FromString,
            response_serializer=worker_pb2.PingResponse.SerializeToString),
        "Shutdown": grpc.unary_unary_rpc_method_handler(
            servicer.Shutdown, request_deserializer=worker_pb2.ShutdownRequest.FromString,
            response_serializer=worker_pb2.ShutdownResponse.SerializeToString),
    }
    service = worker_pb2.DESCRIPTOR.services_by_name["Worker"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
