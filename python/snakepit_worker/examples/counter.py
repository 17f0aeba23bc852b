"""Adapters with state that the pool keeps across a recycle and a crash (snapshot and restore)."""

import os
import threading

from snakepit_worker import Adapter, tool


class CounterAdapter(Adapter):
    """Counts calls to incr; its count survives the worker (snapshot and restore)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._restored_from = None

    @tool
    def incr(self, by=1):
        with self._lock:
            self._count += by
            return {"count": self._count, "pid": os.getpid()}

    @tool
    def count(self):
        return {"count": self._count, "pid": os.getpid(), "restored": self._restored_from}

    @tool
    def pid(self):
        return os.getpid()

    def snapshot(self):
        return {"count": self._count, "pid": os.getpid()}

    def restore(self, state):
        self._count = state["count"]
        self._restored_from = state["pid"]


class GrowingStateAdapter(CounterAdapter):
    """A snapshot of 400 KiB per count: from a count of 3 it is over a pool's snapshot.max-bytes of 1 MiB."""

    def snapshot(self):
        return {"count": self._count, "pid": os.getpid(), "ballast": "x" * (self._count * 400 << 10)}


class RestoreFailsAdapter(CounterAdapter):
    """Takes snapshots but cannot restore them."""

    def restore(self, state):
        raise RuntimeError("this adapter cannot restore a count of %d" % state["count"])
