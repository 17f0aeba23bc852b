"""The running call as a tool sees it: deadline, cancellation, and which call a thread serves."""

import threading
import time

from conftest import FakeContext
from snakepit_worker import call
from snakepit_worker.call import CallContext, current_call


def test_outside_a_call_there_is_no_deadline_and_nothing_is_cancelled():
    c = current_call()
    assert c.time_remaining() is None
    assert not c.cancelled()
    assert c.call_id == ""
    assert c.sleep(0.01)


def test_time_remaining_is_the_callers_deadline_and_none_without_one():
    assert CallContext(FakeContext(remaining=2.5)).time_remaining() == 2.5
    assert CallContext(FakeContext(remaining=None)).time_remaining() is None
    # grpcio's answer for a call without a deadline: the seconds to the end of its clock.
    assert CallContext(FakeContext(remaining=9.2e18)).time_remaining() is None


def test_a_call_whose_context_is_inactive_is_cancelled():
    assert CallContext(FakeContext(active=False)).cancelled()
    assert not CallContext(FakeContext(active=True)).cancelled()


def test_sleep_wakes_early_when_the_call_is_cancelled():
    context = FakeContext()
    threading.Timer(0.1, lambda: setattr(context, "active", False)).start()
    start = time.monotonic()
    assert not CallContext(context).sleep(5)
    assert time.monotonic() - start < 1


def test_sleep_sleeps_it_all_while_the_call_is_active():
    start = time.monotonic()
    assert CallContext(FakeContext()).sleep(0.1)
    assert time.monotonic() - start >= 0.1


def test_each_thread_sees_its_own_call_until_it_leaves():
    seen = {}

    def serve(name):
        call._enter(FakeContext(), name)
        time.sleep(0.05)
        seen[name] = current_call().call_id
        call._leave()
        seen[name + "-after"] = current_call().call_id

    threads = [threading.Thread(target=serve, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b", "a-after": "", "b-after": ""}
    assert current_call().call_id == ""
