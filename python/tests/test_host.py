"""host.call, the client side of the tool bridge, against a Host service of the test's own on a Unix socket."""

import json
import threading
import time
from concurrent import futures

import grpc
import pytest

from conftest import FakeContext
from snakepit_worker import call, host
from snakepit_worker._proto import worker_pb2


class FakeHost:
    """Answers host calls by tool name, and records what each call saw."""

    def __init__(self):
        self.requests = []
        self.deadlines = []
        self.ended = threading.Event()
        self.cancelled = threading.Event()

    def call(self, request, context):
        self.requests.append(request)
        self.deadlines.append(context.time_remaining())
        if request.tool == "echo":
            return worker_pb2.HostCallResponse(json=request.args_json or "null")
        if request.tool == "boom":
            return worker_pb2.HostCallResponse(error=worker_pb2.HostError(
                type="java.lang.IllegalStateException", message="no rates today",
                trace="java.lang.IllegalStateException: no rates today\n\tat Rates.get(Rates.java:1)"))
        if request.tool == "busy":
            return worker_pb2.HostCallResponse(error=worker_pb2.HostError(
                type="snakepit.HostBusy", message="64 host calls are in flight"))
        if request.tool == "slow":
            context.add_callback(self.cancelled.set)
            while context.is_active():
                time.sleep(0.01)
            self.ended.set()
            return worker_pb2.HostCallResponse(json="null")
        return worker_pb2.HostCallResponse(error=worker_pb2.HostError(
            type="snakepit.UnknownHostTool", message="no host tool named '%s'" % request.tool,
            available_tools=["boom", "echo", "slow"]))


@pytest.fixture
def fake_host(tmp_path, monkeypatch):
    fake = FakeHost()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("snakepit.v1.Host", {
        "Call": grpc.unary_unary_rpc_method_handler(
            fake.call, request_deserializer=worker_pb2.HostCallRequest.FromString,
            response_serializer=worker_pb2.HostCallResponse.SerializeToString)})])
    path = str(tmp_path / "host.sock")
    server.add_insecure_port("unix:" + path)
    server.start()
    monkeypatch.setenv(host.SOCKET_VARIABLE, path)
    monkeypatch.setenv("SNAKEPIT_WORKER_ID", "w-0-1")
    yield fake
    server.stop(0)


def test_a_host_tool_gets_the_keyword_arguments_as_json_and_its_result_comes_back_as_python_values(fake_host):
    assert host.call("echo", currency="EUR", amounts=[1, 2.5]) == {"currency": "EUR", "amounts": [1, 2.5]}
    sent = fake_host.requests[0]
    assert json.loads(sent.args_json) == {"currency": "EUR", "amounts": [1, 2.5]}
    assert sent.worker_id == "w-0-1"


def test_a_call_without_arguments_sends_none(fake_host):
    assert host.call("echo") is None
    assert fake_host.requests[0].args_json == ""


def test_an_unknown_host_tool_raises_unknown_host_tool_listing_the_tools(fake_host):
    with pytest.raises(host.UnknownHostTool) as raised:
        host.call("nope")
    assert raised.value.tool == "nope"
    assert raised.value.available_tools == ("boom", "echo", "slow")
    assert isinstance(raised.value, host.HostError)


def test_a_handler_that_threw_raises_host_tool_failed_with_the_java_class_message_and_trace(fake_host):
    with pytest.raises(host.HostToolFailed) as raised:
        host.call("boom", day="monday")
    e = raised.value
    assert e.java_type == "java.lang.IllegalStateException"
    assert e.java_message == "no rates today"
    assert "Rates.java" in e.trace
    assert "host tool 'boom'" in str(e) and "no rates today" in str(e)


def test_a_refusal_of_the_node_raises_its_own_type(fake_host):
    with pytest.raises(host.HostBusy) as raised:
        host.call("busy")
    assert raised.value.type == "snakepit.HostBusy"


def test_the_host_call_carries_the_remaining_deadline_of_the_tools_call(fake_host):
    call._enter(FakeContext(remaining=30.0), "c7")
    try:
        host.call("echo", x=1)
    finally:
        call._leave()
    assert fake_host.requests[0].call_id == "c7"
    # gRPC sends the timeout rounded up to its units: a hair over 30 s may arrive.
    assert 25 < fake_host.deadlines[0] <= 30.5
    # The same deadline on the host's monotonic clock, which the JVM shares: it does not grow on the way.
    assert abs(fake_host.requests[0].deadline_ns - (time.monotonic_ns() + 30e9)) < 5e9


def test_outside_a_call_the_host_call_has_no_deadline(fake_host):
    host.call("echo", x=1)
    assert fake_host.deadlines[0] is None or fake_host.deadlines[0] > 1e6
    assert fake_host.requests[0].deadline_ns == 0


def test_a_deadline_that_passes_raises_host_deadline_exceeded_and_ends_the_host_side(fake_host):
    call._enter(FakeContext(remaining=0.3), "c8")
    start = time.monotonic()
    try:
        with pytest.raises(host.HostDeadlineExceeded):
            host.call("slow")
    finally:
        call._leave()
    assert time.monotonic() - start < 5
    assert fake_host.ended.wait(5)


def test_cancelling_the_tools_call_cancels_its_host_call(fake_host):
    context = FakeContext(remaining=60.0)
    threading.Timer(0.3, lambda: setattr(context, "active", False)).start()
    call._enter(context, "c9")
    try:
        with pytest.raises(host.HostCallCancelled):
            host.call("slow")
    finally:
        call._leave()
    assert fake_host.cancelled.wait(5)
    assert fake_host.ended.wait(5)


def test_a_cancelled_call_sends_nothing(fake_host):
    call._enter(FakeContext(active=False, remaining=10.0), "c10")
    try:
        with pytest.raises(host.HostCallCancelled):
            host.call("echo")
    finally:
        call._leave()
    assert fake_host.requests == []


def test_arguments_that_are_not_json_raise_type_error_naming_the_tool(fake_host):
    with pytest.raises(TypeError, match="host tool 'echo'"):
        host.call("echo", when=object())
    assert fake_host.requests == []


def test_without_the_socket_variable_the_call_names_the_variable(monkeypatch):
    monkeypatch.delenv(host.SOCKET_VARIABLE, raising=False)
    with pytest.raises(host.HostUnavailable, match=host.SOCKET_VARIABLE):
        host.call("echo")


def test_a_socket_nobody_serves_raises_host_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv(host.SOCKET_VARIABLE, str(tmp_path / "gone.sock"))
    call._enter(FakeContext(remaining=5.0), "c11")
    try:
        with pytest.raises(host.HostUnavailable, match="gone.sock"):
            host.call("echo")
    finally:
        call._leave()
