"""The calls socket: many calls on one connection, each with its own id, deadline and cancel."""

import queue
import socket
import threading
import time

from snakepit_worker import Adapter, current_call, tool
from snakepit_worker import call_socket, server
from snakepit_worker._proto import worker_pb2
from snakepit_worker.server import WorkerServicer

# Generous: a broken dispatch fails the test by this limit instead of hanging it.
LIMIT = 10.0


class Tools(Adapter):
    @tool
    def add(self, a, b=0):
        return a + b

    @tool
    def wait(self, name, seconds=LIMIT):
        """Sleeps until cancelled (or ``seconds``); says how it ended and what it saw."""
        call = current_call()
        remaining = call.time_remaining()
        slept = call.sleep(seconds)
        return {"name": name, "call_id": call.call_id, "slept": slept,
                "remaining": remaining, "thread": threading.current_thread().name}

    @tool
    def fail(self, message):
        raise KeyError(message)

    @tool
    def big(self, size):
        return b"x" * size


class Frames:
    """The JVM's side of a connection: frames written here reach the worker; close() half-closes."""

    def __init__(self, sock):
        self._sock = sock

    def _write(self, frame):
        data = frame.SerializeToString()
        self._sock.sendall(call_socket.LENGTH.pack(len(data)) + data)

    def call(self, call_id, tool_name, args_json="", deadline_us=0, raw=None):
        data = raw if raw is not None else worker_pb2.ExecuteRequest(
            tool=tool_name, args_json=args_json, call_id="c%d" % call_id).SerializeToString()
        self._write(worker_pb2.CallFrame(id=call_id, request=data, deadline_us=deadline_us))

    def cancel(self, call_id):
        self._write(worker_pb2.CallFrame(id=call_id, cancel=True))

    def close(self):
        self._sock.shutdown(socket.SHUT_WR)


class Results:
    """The worker's answers, read on a thread of their own as the JVM reads them; ``ended`` is set
    once the worker closed the connection."""

    def __init__(self, sock):
        self._answers = queue.Queue()
        self.ended = threading.Event()
        reader = sock.makefile("rb")

        def drain():
            while True:
                head = reader.read(call_socket.LENGTH.size)
                if len(head) < call_socket.LENGTH.size:
                    break
                (size,) = call_socket.LENGTH.unpack(head)
                self._answers.put(worker_pb2.ResultFrame.FromString(reader.read(size)))
            self.ended.set()

        threading.Thread(target=drain, daemon=True).start()

    def next(self):
        return self._answers.get(timeout=LIMIT)

    def none_within(self, seconds):
        try:
            answer = self._answers.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError("unexpected answer %s" % answer)


def connect(service, max_frame=1 << 24):
    """A connection to ``service`` over a real socket pair, as the calls socket's listener makes it."""
    jvm, worker = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    jvm.settimeout(LIMIT)
    connection = call_socket.CallConnection(service, worker, service._threads, max_frame,
                                            draining=False)
    assert service.track(connection)
    connection.start()
    return Frames(jvm), Results(jvm)


def servicer(threads=4, max_message_size=None):
    return WorkerServicer(Tools(), "tests:Tools", threads, lambda grace, reason: None, max_message_size)


def test_many_calls_on_one_stream_each_get_their_own_answer_by_id():
    frames, results = connect(servicer())
    for i in range(50):
        frames.call(i, "add", '{"a": %d, "b": 1}' % i)
    answers = {}
    for _ in range(50):
        answer = results.next()
        answers[answer.id] = answer.response.value.json
    assert answers == {i: str(i + 1) for i in range(50)}
    frames.close()
    assert results.ended.wait(LIMIT), "the stream did not end once the JVM closed it"


def test_a_cancel_is_read_while_every_tool_thread_runs_a_call():
    service = servicer(threads=2)
    frames, results = connect(service)
    assert service.calls_streams() == 1
    frames.call(1, "wait", '{"name": "one"}')
    frames.call(2, "wait", '{"name": "two"}')
    time.sleep(0.3)
    frames.cancel(1)
    frames.cancel(2)
    results.none_within(0.5)
    frames.close()
    assert results.ended.wait(LIMIT), "the cancels were not read: the calls ran on"
    assert service.calls_streams() == 0


def test_calls_run_at_once_on_the_tool_threads_and_a_quick_one_passes_a_slow_one():
    frames, results = connect(servicer(threads=2))
    frames.call(1, "wait", '{"name": "slow", "seconds": 2}')
    frames.call(2, "add", '{"a": 1}')
    first = results.next()
    assert (first.id, first.response.value.json) == (2, "1")
    second = results.next()
    assert second.id == 1 and '"slept": true' in second.response.value.json
    assert '"thread": "snakepit-tool' in second.response.value.json
    frames.close()


def test_each_call_has_its_own_deadline_and_call_id():
    frames, results = connect(servicer())
    frames.call(7, "wait", '{"name": "a", "seconds": 0}', deadline_us=5_000_000)
    frames.call(8, "wait", '{"name": "b", "seconds": 0}')
    answers = {}
    for _ in range(2):
        answer = results.next()
        answers[answer.id] = answer.response.value.json
    import json
    a, b = json.loads(answers[7]), json.loads(answers[8])
    assert a["call_id"] == "c7" and 4.0 < a["remaining"] <= 5.0, a
    assert b["call_id"] == "c8" and b["remaining"] is None, b
    frames.close()


def test_a_call_past_its_deadline_sees_cancelled_and_sends_nothing():
    frames, results = connect(servicer())
    frames.call(1, "wait", '{"name": "late"}', deadline_us=200_000)
    frames.call(2, "add", '{"a": 2}')
    assert results.next().id == 2
    results.none_within(1.0)
    frames.close()
    assert results.ended.wait(LIMIT)


def test_a_cancel_frame_stops_that_call_only():
    frames, results = connect(servicer())
    frames.call(1, "wait", '{"name": "cancelled"}')
    frames.call(2, "wait", '{"name": "kept", "seconds": 0.5}')
    time.sleep(0.2)
    frames.cancel(1)
    answer = results.next()
    assert answer.id == 2 and '"slept": true' in answer.response.value.json
    results.none_within(0.5)
    frames.close()
    assert results.ended.wait(LIMIT), "the cancelled call held the stream open"


def test_errors_come_back_as_today_in_their_call_frame():
    frames, results = connect(servicer(max_message_size=1000))
    frames.call(1, "fail", '{"message": "boom"}')
    error = results.next()
    assert error.id == 1 and error.response.error.type == "KeyError"
    assert "boom" in error.response.error.message and "Traceback" in error.response.error.traceback
    frames.call(2, "nope")
    assert results.next().response.error.type == server.UNKNOWN_TOOL
    frames.call(3, "big", '{"size": 5000}')
    assert results.next().response.error.type == server.MESSAGE_TOO_LARGE
    frames.call(4, "", raw=b"\x0a\x02\xff\xfe")
    malformed = results.next()
    assert malformed.id == 4 and malformed.response.error.type == server.INVALID_ARGUMENTS
    assert "not valid UTF-8" in malformed.response.error.message
    frames.close()


def test_the_connection_ends_when_the_jvm_goes_and_its_calls_see_cancelled():
    frames, results = connect(servicer())
    frames.call(1, "wait", '{"name": "orphan"}')
    time.sleep(0.2)
    frames.close()
    assert results.ended.wait(LIMIT), "the connection outlived its caller"
    results.none_within(0.2)


def test_drain_ends_an_idle_connection_and_a_busy_one_once_its_calls_end():
    service = servicer()
    _, idle = connect(service)
    busy_frames, busy = connect(service)
    busy_frames.call(1, "wait", '{"name": "busy", "seconds": 0.5}')
    time.sleep(0.1)
    service.drain()
    assert idle.ended.wait(LIMIT), "an idle connection held the stop"
    assert not busy.ended.is_set()
    assert busy.next().id == 1
    assert busy.ended.wait(LIMIT), "a drained connection outlived its last call"
    assert service.calls_streams() == 0


def test_a_frame_over_the_limit_ends_the_connection():
    frames, results = connect(servicer(), max_frame=100)
    frames.call(1, "add", '{"a": 1, "pad": "%s"}' % ("x" * 200))
    assert results.ended.wait(LIMIT), "an oversized frame was read"
    results.none_within(0.2)


def test_over_a_real_socket_calls_share_one_connection_and_a_stop_does_not_wait_out_its_grace(
        tmp_path):
    service = servicer()
    grpc_server = server.build_server(service, str(tmp_path / "w.sock"), 4,
                                      max_message_size=1 << 20)
    calls_path = str(tmp_path / "w.calls.sock")
    call_socket.CallListener(service, calls_path, 4, 1 << 20).start()
    grpc_server.start()
    jvm = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        jvm.settimeout(LIMIT)
        jvm.connect(calls_path)
        frames, results = Frames(jvm), Results(jvm)
        for i in range(20):
            frames.call(i, "add", '{"a": %d}' % i)
        got = {}
        for _ in range(20):
            answer = results.next()
            got[answer.id] = answer.response.value.json
        assert got == {i: str(i) for i in range(20)}
        assert service.calls_streams() == 1
        started = time.monotonic()
        grpc_server.stop(5.0).wait(LIMIT)
        took = time.monotonic() - started
        assert took < 2.5, "the stop waited %.1f s on an idle connection (grace 5 s)" % took
        assert results.ended.wait(LIMIT), "the worker kept the connection after its stop"
        refused = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            refused.connect(calls_path)
            raise AssertionError("the calls socket still took connections after the stop")
        except OSError:
            pass
        finally:
            refused.close()
    finally:
        jvm.close()
        grpc_server.stop(None)


def test_a_frames_deadline_counts_from_when_the_jvm_measured_it_on_the_shared_clock():
    now = time.monotonic_ns()
    sent = now - 400_000_000
    assert abs(call_socket._measured_from(sent) - sent / 1e9) < 1e-6
    streamed = call_socket.StreamedCall(None, 1_000_000, sent)
    assert 0.5 < streamed.time_remaining() <= 0.6
    # None given, ahead of this clock, or over a second ago (not the same clock): from when the frame was read.
    for other in (0, now + 5_000_000_000, now - 2_000_000_000):
        assert abs(call_socket._measured_from(other) - time.monotonic()) < 0.1
