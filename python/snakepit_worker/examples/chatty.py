"""ChattyAdapter: tools that write to stdout and stderr, for tests and benchmarks of how the node takes a
worker's output (cut, escaped, rate-limited, never slowing the worker or the calls)."""

import logging
import os
import random
import threading
import time

from snakepit_worker import current_call, tool
from snakepit_worker.examples.basic import BasicAdapter

_FDS = {"stdout": 1, "stderr": 2}


def _write_all(fd, data):
    """os.write until every byte is out: a pipe takes at most what fits at once."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _mixed(size, seed):
    """About size bytes of mixed output: text lines of 10 to 300 characters, and runs of random bytes (not
    UTF-8, with their own newlines) between them."""
    rng = random.Random(seed)
    parts = []
    total = 0
    while total < size:
        if rng.random() < 0.8:
            part = ("%d " % total + "text " * rng.randint(2, 60)).encode() + b"\n"
        else:
            part = rng.randbytes(rng.randint(64, 1024))
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


class ChattyAdapter(BasicAdapter):
    """BasicAdapter plus tools that write output; a flood runs in a thread of its own and times its writes."""

    def __init__(self):
        super().__init__()
        self._flood = None

    @tool
    def say(self, text, stream="stdout", count=1):
        """Writes text as count lines on stdout or stderr (no buffering); returns the worker's pid."""
        _write_all(_FDS[stream], (text + "\n").encode() * count)
        return os.getpid()

    @tool
    def log(self, message, level="WARNING", logger="chatty", error=False):
        """Logs message through Python's logging (with a traceback when error); returns the worker's pid
        and the call's id."""
        named = logging.getLogger(logger)
        if error:
            try:
                raise ValueError("logged on purpose")
            except ValueError:
                named.log(logging.getLevelName(level), message, exc_info=True)
        else:
            named.log(logging.getLevelName(level), message)
        return {"pid": os.getpid(), "call": current_call().call_id}

    @tool
    def write_bytes(self, hex, stream="stdout"):
        """Writes the bytes given in hex, as they are (no newline added)."""
        _write_all(_FDS[stream], bytes.fromhex(hex))
        return len(hex) // 2

    @tool
    def long_line(self, size, stream="stdout"):
        """Writes one line of size bytes without a newline; the line ends when the worker's output does."""
        chunk = b"x" * (1024 * 1024)
        left = size
        while left > 0:
            _write_all(_FDS[stream], chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))
        return size

    @tool
    def flood(self, seconds=20, bytes_per_second=10 * 1024 * 1024, tick=0.01):
        """Starts writing bytes_per_second of mixed text and binary, half on stdout and half on stderr, for
        seconds, in ticks; returns at once. flood_result says how long the writes took: a worker whose
        reader falls behind blocks on a full pipe and finishes late."""
        per_tick = int(bytes_per_second * tick / 2)
        data = {fd: _mixed(4 * 1024 * 1024, fd) for fd in (1, 2)}
        state = {"done": False, "seconds": None, "bytes": 0, "late_ticks": 0}

        def run():
            start = time.monotonic()
            ticks = int(seconds / tick)
            offset = 0
            for k in range(ticks):
                due = start + k * tick
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elif now - due > 0.5:
                    state["late_ticks"] += 1
                for fd in (1, 2):
                    buf = data[fd]
                    piece = buf[offset:offset + per_tick]
                    if len(piece) < per_tick:
                        piece += buf[:per_tick - len(piece)]
                    _write_all(fd, piece)
                    state["bytes"] += per_tick
                offset = (offset + per_tick) % len(data[1])
            for fd in (1, 2):
                _write_all(fd, b"\n")  # ends the last line, so the worker's next output starts its own
            state["seconds"] = time.monotonic() - start
            state["done"] = True

        self._flood = state
        threading.Thread(target=run, name="snakepit-example-flood", daemon=True).start()
        return os.getpid()

    @tool
    def flood_result(self):
        """How the last flood went: done, seconds its writes took, bytes written."""
        if self._flood is None:
            raise RuntimeError("no flood was started on this worker")
        return dict(self._flood)
