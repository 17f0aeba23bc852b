"""How a worker ends: the first stop request wins, teardown decides the exit code, a lost parent ends it at once."""

import os
import signal
import threading

import pytest

from snakepit_worker import watchdog
from snakepit_worker.watchdog import GracefulStop


class Exited(Exception):
    """Raised in place of os._exit, so a test can see the code the worker would have ended with."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


@pytest.fixture
def exits(monkeypatch):
    def exit_now(code):
        raise Exited(code)

    monkeypatch.setattr(watchdog, "exit_now", exit_now)
    monkeypatch.setattr(watchdog.os, "_exit", exit_now)
    # The stop deadline would end the process a second after the test: it is tested on its own.
    monkeypatch.setattr(watchdog, "_overrun_after", lambda seconds: None)


class Server:
    def __init__(self):
        self.graces = []

    def stop(self, grace):
        self.graces.append(grace)
        done = threading.Event()
        done.set()
        return done


class Teardown:
    def __init__(self, error=None):
        self.error = error
        self.calls = 0

    def teardown(self):
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_the_first_stop_request_wins_and_none_means_the_default_grace(exits):
    stop = GracefulStop(default_grace=5.0)
    stop.request(None, "SIGTERM")
    stop.request(0.5, "Shutdown request")
    server, adapter = Server(), Teardown()
    with pytest.raises(Exited) as e:
        stop.wait_then_stop(server, adapter)
    assert e.value.code == 0
    assert server.graces == [5.0]
    assert adapter.calls == 1


def test_a_given_grace_is_used_for_the_server(exits):
    stop = GracefulStop(default_grace=5.0)
    stop.request(0.25, "Shutdown request")
    server = Server()
    with pytest.raises(Exited):
        stop.wait_then_stop(server, Teardown())
    assert server.graces == [0.25]


def test_a_teardown_that_raises_makes_the_exit_stop_failed(exits):
    stop = GracefulStop(default_grace=1.0)
    stop.request(None, "test")
    with pytest.raises(Exited) as e:
        stop.wait_then_stop(Server(), Teardown(RuntimeError("disk gone")))
    assert e.value.code == watchdog.STOP_FAILED


def test_a_signal_asks_for_a_stop_with_the_default_grace(exits):
    stop = GracefulStop(default_grace=2.0)
    stop._on_signal(signal.SIGTERM, None)
    server = Server()
    with pytest.raises(Exited):
        stop.wait_then_stop(server, Teardown())
    assert server.graces == [2.0]
    assert stop._reason == "SIGTERM"


def test_an_overrun_stop_ends_the_process_with_stop_failed(monkeypatch):
    slept = []
    monkeypatch.setattr(watchdog.time, "sleep", slept.append)
    monkeypatch.setattr(watchdog, "exit_now", lambda code: (_ for _ in ()).throw(Exited(code)))
    with pytest.raises(Exited) as e:
        watchdog._overrun_after(3.5)
    assert slept == [3.5]
    assert e.value.code == watchdog.STOP_FAILED


def test_a_changed_parent_pid_ends_the_process_as_parent_gone(exits, monkeypatch):
    monkeypatch.setattr(watchdog.time, "sleep", lambda seconds: None)
    parents = iter([100, 100, 1])
    monkeypatch.setattr(watchdog.os, "getppid", lambda: next(parents))
    with pytest.raises(Exited) as e:
        watchdog._poll_parent(100)
    assert e.value.code == watchdog.PARENT_GONE


def test_eof_on_the_lifeline_ends_the_process_as_parent_gone(exits):
    read, write = os.pipe()
    os.write(write, b"ignored")
    os.close(write)
    try:
        with pytest.raises(Exited) as e:
            watchdog._read_until_eof(read)
    finally:
        os.close(read)
    assert e.value.code == watchdog.PARENT_GONE
