"""The worker's service driven in-process, without a socket: tool dispatch and every error it makes."""

import json
import sys

import grpc
import pytest

from conftest import Aborted, FakeContext
from snakepit_worker import Adapter, current_call, tool
from snakepit_worker import server
from snakepit_worker._proto import worker_pb2
from snakepit_worker.server import WorkerServicer


class Tools(Adapter):
    closed = []

    @tool
    def echo(self, **kwargs):
        payload = kwargs.get("payload")
        return payload if isinstance(payload, bytes) else kwargs

    @tool
    def add(self, a, b=0):
        return a + b

    @tool
    def fail(self, message):
        raise KeyError(message)

    @tool
    def leave(self):
        sys.exit(4)

    @tool
    def count(self, n, fail_after=None):
        try:
            for i in range(n):
                if fail_after is not None and i == fail_after:
                    raise ValueError("stopped at %d" % i)
                yield {"i": i}
        finally:
            Tools.closed.append(n)

    @tool
    def growing(self, n):
        for i in range(n):
            yield "x" * (10 * i)

    @tool
    def unserializable(self):
        return {1, 2}

    @tool
    def nan(self):
        return float("nan")

    @tool
    def big(self, size):
        return b"x" * size

    @tool
    def whoami(self):
        return current_call().call_id

    @tool
    def surrogate(self):
        return "\udc80"


class Custom(Tools):
    def json_default(self, value):
        return sorted(value)


def servicer(adapter=None, threads=2, max_message_size=None, stops=None):
    return WorkerServicer(adapter or Tools(), "tests:Tools", threads,
                          lambda grace, reason: stops.append((grace, reason)) if stops is not None else None,
                          max_message_size)


def request(tool_name, args_json="", **fields):
    return worker_pb2.ExecuteRequest(tool=tool_name, args_json=args_json, **fields)


def execute(tool_name, args_json="", service=None, **fields):
    return (service or servicer()).Execute(request(tool_name, args_json, **fields), FakeContext())


def stream(tool_name, args_json="", service=None, context=None):
    return list((service or servicer()).ExecuteStream(request(tool_name, args_json), context or FakeContext()))


def test_a_tool_gets_its_json_arguments_and_its_result_comes_back_as_json():
    assert execute("add", '{"a": 2, "b": 3}').value.json == "5"
    assert execute("echo", "").value.json == "{}"
    assert execute("echo", '{"text": "h\\u00e9"}').value.json == '{"text": "hé"}'


def test_raw_bytes_go_in_as_payload_and_come_back_raw():
    response = execute("echo", "{}", payload=b"\x00\xff", has_payload=True)
    assert response.value.raw == b"\x00\xff"


def test_payload_given_both_ways_is_invalid_arguments():
    error = execute("echo", '{"payload": 1}', payload=b"x", has_payload=True).error
    assert error.type == server.INVALID_ARGUMENTS
    assert "'payload' is given both" in error.message


def test_an_unknown_tool_names_the_tools_there_are():
    error = execute("nope").error
    assert error.type == server.UNKNOWN_TOOL
    assert "unknown tool 'nope'" in error.message and "tests:Tools" in error.message
    assert list(error.available_tools) == Tools.tool_names()


@pytest.mark.parametrize("args, expected", [
    ("{not json", "args_json is not valid JSON"),
    ("[1, 2]", "got a JSON array"),
    ('"text"', "got a JSON string"),
    ("true", "got a JSON boolean"),
    ("null", "got a JSON null"),
    ("3", "got a JSON number"),
])
def test_arguments_that_are_not_a_json_object_are_invalid_arguments(args, expected):
    error = execute("add", args).error
    assert error.type == server.INVALID_ARGUMENTS
    assert expected in error.message, error.message


def test_arguments_the_signature_cannot_take_name_the_signature():
    error = execute("add", '{"c": 1}').error
    assert error.type == server.INVALID_ARGUMENTS
    assert "tool 'add(a, b=0)' cannot take the arguments ['c']" in error.message


def test_a_tools_exception_arrives_with_type_message_and_a_traceback_without_the_workers_frames():
    error = execute("fail", '{"message": "bad input"}').error
    assert error.type == "KeyError"
    assert error.message == "'bad input'"
    assert "Traceback" in error.traceback and "raise KeyError(message)" in error.traceback
    assert "snakepit_worker/server.py" not in error.traceback


def test_sys_exit_in_a_tool_ends_the_call_not_the_worker():
    error = execute("leave").error
    assert error.type == "SystemExit"
    assert error.message == "4"


def test_a_result_json_cannot_encode_is_unserializable_result_unless_json_default_helps():
    error = execute("unserializable").error
    assert error.type == server.UNSERIALIZABLE_RESULT
    assert "type set" in error.message and "json_default" in error.message
    assert execute("nan").error.type == server.UNSERIALIZABLE_RESULT
    assert execute("unserializable", service=servicer(Custom())).value.json == "[1, 2]"


def test_a_streaming_tool_called_once_returns_all_its_values():
    assert execute("count", '{"n": 3}').value.json == '[{"i": 0}, {"i": 1}, {"i": 2}]'


def test_a_tool_sees_its_call_id_and_the_thread_forgets_it_after():
    assert execute("whoami", call_id="c-7").value.json == '"c-7"'
    assert current_call().call_id == ""


def test_text_with_lone_surrogates_is_sent_as_valid_utf8():
    text = execute("surrogate").value.json
    text.encode("utf-8")
    assert "udc80" in text


def test_a_result_over_the_limit_is_replaced_by_message_too_large():
    service = servicer(max_message_size=1000)
    assert len(execute("big", '{"size": 900}', service=service).value.raw) == 900
    error = execute("big", '{"size": 2000}', service=service).error
    assert error.type == server.MESSAGE_TOO_LARGE
    assert "tool 'big' returned a result of" in error.message and "max-message-size" in error.message


def test_a_stream_sends_each_item_in_order():
    responses = stream("count", '{"n": 3}')
    assert [r.value.json for r in responses] == ['{"i": 0}', '{"i": 1}', '{"i": 2}']


def test_a_stream_that_raises_ends_with_the_error_after_its_items():
    responses = stream("count", '{"n": 5, "fail_after": 2}')
    assert [r.WhichOneof("outcome") for r in responses] == ["value", "value", "error"]
    assert responses[-1].error.type == "ValueError"


def test_a_plain_tool_called_as_a_stream_sends_one_item():
    assert [r.value.json for r in stream("add", '{"a": 1}')] == ["1"]


def test_a_stream_stops_and_closes_the_tool_when_the_caller_has_gone():
    Tools.closed.clear()
    context = FakeContext()
    responses = servicer().ExecuteStream(request("count", '{"n": 100}'), context)
    first = next(responses)
    context.active = False
    rest = list(responses)
    assert first.value.json == '{"i": 0}'
    assert rest == []
    assert Tools.closed == [100]


def test_an_item_over_the_limit_ends_the_stream_with_message_too_large():
    service = servicer(max_message_size=40)
    responses = stream("growing", '{"n": 1000}', service=service)
    assert [r.WhichOneof("outcome") for r in responses] == ["value"] * 4 + ["error"]
    assert responses[-1].error.type == server.MESSAGE_TOO_LARGE


def test_errors_before_the_stream_starts_are_its_only_message():
    responses = stream("nope")
    assert len(responses) == 1 and responses[0].error.type == server.UNKNOWN_TOOL


def test_a_request_protobuf_cannot_parse_is_invalid_arguments_naming_the_field():
    # Field 1 (tool), length-delimited, two bytes that are not UTF-8.
    parsed = server._parse_request(b"\x0a\x02\xff\xfe")
    error = servicer().Execute(parsed, FakeContext()).error
    assert error.type == server.INVALID_ARGUMENTS
    assert "the request's tool (field 1) is not valid UTF-8 (byte 0 of the field)" in error.message
    responses = list(servicer().ExecuteStream(server._parse_request(b"\xff"), FakeContext()))
    assert responses[0].error.type == server.INVALID_ARGUMENTS
    assert "not a valid ExecuteRequest" in responses[0].error.message


def test_a_call_waiting_for_a_thread_gives_up_when_its_caller_has_gone(monkeypatch):
    monkeypatch.setattr(server, "_SLOT_POLL_SECONDS", 0.01)
    service = servicer(threads=1)
    service._slots.acquire()  # the one tool thread is busy
    response = service.Execute(request("add", '{"a": 1}'), FakeContext(active=False))
    assert response == worker_pb2.ExecuteResponse()
    service._slots.release()
    assert execute("add", '{"a": 1}', service=service).value.json == "1"


def test_ping_names_the_adapter_and_its_tools():
    pong = servicer().Ping(worker_pb2.PingRequest(), FakeContext())
    assert pong.adapter == "tests:Tools"
    assert list(pong.tools) == Tools.tool_names()


def test_shutdown_asks_for_a_stop_once_the_call_has_ended():
    stops = []
    context = FakeContext()
    service = servicer(stops=stops)
    service.Shutdown(worker_pb2.ShutdownRequest(grace_ms=1500), context)
    assert stops == []
    context.callbacks[0]()
    assert stops == [(1.5, "Shutdown request")]


def test_shutdown_without_a_grace_asks_for_the_default():
    stops = []

    class Ended(FakeContext):
        def add_callback(self, callback):
            return False  # the call has already ended: stop at once

    servicer(stops=stops).Shutdown(worker_pb2.ShutdownRequest(), Ended())
    assert stops == [(None, "Shutdown request")]


def test_a_socket_path_that_is_too_long_or_not_a_socket_is_refused(tmp_path):
    with pytest.raises(server.SocketError, match="at most 107"):
        server.build_server(servicer(), str(tmp_path / ("s" * 120)), 1)
    regular = tmp_path / "file"
    regular.write_text("keep me")
    with pytest.raises(server.SocketError, match="is not a socket; refusing to replace it"):
        server.build_server(servicer(), str(regular), 1)
    assert regular.read_text() == "keep me"


class Counter(Adapter):
    def __init__(self, state=None):
        self.count = 0
        self.state = state

    @tool
    def incr(self):
        self.count += 1
        return self.count

    def snapshot(self):
        return {"count": self.count} if self.state is None else self.state


def snapshot(adapter, threads=2, remaining=None):
    return servicer(adapter, threads=threads).Snapshot(worker_pb2.SnapshotRequest(), FakeContext(remaining=remaining))


def test_an_adapter_without_snapshot_has_no_state_to_keep():
    response = snapshot(Tools())
    assert (response.supported, response.state_json) == (False, b"")


def test_a_snapshot_is_the_adapters_state_as_json():
    adapter = Counter()
    adapter.incr()
    adapter.incr()
    response = snapshot(adapter)
    assert response.supported
    assert json.loads(response.state_json) == {"count": 2}


@pytest.mark.parametrize("state, expected", [
    ([1, 2], "Counter.snapshot() returned a JSON array, not a dict"),
    ({"when": {1, 2}}, "Counter.snapshot() returned a dict JSON cannot hold"),
])
def test_a_snapshot_that_is_no_json_object_is_refused_naming_the_adapter_and_the_fix(state, expected):
    with pytest.raises(Aborted) as refused:
        snapshot(Counter(state))
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert expected in refused.value.details


def test_a_snapshot_that_raises_is_refused_with_the_adapters_error():
    class Failing(Counter):
        def snapshot(self):
            raise RuntimeError("no state today")

    with pytest.raises(Aborted) as refused:
        snapshot(Failing())
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "Failing.snapshot() raised RuntimeError: no state today" in refused.value.details


def test_a_snapshot_waits_for_the_running_calls_and_gives_up_at_its_deadline():
    service = servicer(Counter(), threads=2)
    assert service._slots.acquire(timeout=1)  # a call is running
    try:
        with pytest.raises(Aborted) as late:
            service.Snapshot(worker_pb2.SnapshotRequest(), FakeContext(remaining=0.1))
        assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # Every slot it took is given back: both are free once the running call ends.
    finally:
        service._slots.release()
    assert all(service._slots.acquire(timeout=1) for _ in range(2))
