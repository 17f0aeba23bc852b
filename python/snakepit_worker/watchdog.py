"""How a worker ends: at once when its parent is gone, gracefully when asked to stop.

Parent death: the shim holds the write end of the pipe on our stdin and never writes to it, so
EOF on stdin means the shim is gone; a changed ``getppid()`` means the same. Either way nobody is
left to report to, so the process ends at once with PARENT_GONE.

Graceful stop: SIGTERM, SIGINT or a Shutdown call stop the gRPC server with a grace for calls in
flight, then call the adapter's ``teardown()``, then exit 0. The exit is STOP_FAILED instead
when teardown() raises, or when all that takes longer than the grace plus one second (a deadline
thread then ends the process at once).
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
import threading
import time
from typing import Any, Optional

log = logging.getLogger("snakepit_worker")

PARENT_GONE = 70
STOP_FAILED = 1

PARENT_POLL_SECONDS = 0.5
STOP_DEADLINE_MARGIN_SECONDS = 1.0


def watch_parent() -> None:
    """Starts the daemon threads that end the process when the shim is gone.

    The stdin lifeline is watched only when stdin is a pipe or a socket: a worker started by
    hand with a terminal or /dev/null on stdin relies on the parent-pid check alone. The
    lifeline moves to a close-on-exec descriptor and fd 0 becomes /dev/null, so tools that read
    stdin cannot eat from it and the processes they start do not inherit it.
    """
    parent = os.getppid()
    threading.Thread(target=_poll_parent, args=(parent,), name="snakepit-ppid-watch",
                     daemon=True).start()
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        log.info("stdin is closed: watching the parent pid only")
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        log.info("stdin is not a pipe: watching the parent pid only")
        return
    lifeline = os.dup(0)  # non-inheritable, as every descriptor Python creates
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    threading.Thread(target=_read_until_eof, args=(lifeline,), name="snakepit-stdin-watch",
                     daemon=True).start()


def _read_until_eof(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _parent_gone("stdin reached EOF: the shim is gone")


def _poll_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        now = os.getppid()
        if now != parent:
            _parent_gone("parent pid changed from %d to %d: the shim is gone" % (parent, now))


def _parent_gone(reason: str) -> None:
    try:
        os.write(2, ("snakepit_worker: %s; exiting at once\n" % reason).encode())
    except OSError:
        pass  # stderr went with the shim
    os._exit(PARENT_GONE)


class GracefulStop:
    """Collects stop requests (signals, Shutdown calls); the main thread carries out the first."""

    def __init__(self, default_grace: float):
        self.default_grace = default_grace
        self._requested = threading.Event()
        self._lock = threading.RLock()  # re-entrant: a signal handler may interrupt a holder
        self._grace = default_grace
        self._reason = ""

    def request(self, grace: Optional[float], reason: str) -> None:
        """Asks for a graceful stop; ``grace`` None means the default. Later requests are ignored."""
        with self._lock:
            if self._requested.is_set():
                return
            self._grace = self.default_grace if grace is None else grace
            self._reason = reason
            self._requested.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask for a graceful stop (until now they killed the process).

        A child forked from the worker (multiprocessing, os.fork) gets the default handlers
        back, so the SIGTERM the shim sends to the whole group ends it as it would any process.
        """
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        os.register_at_fork(after_in_child=_default_stop_signals)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.request(None, signal.Signals(signum).name)

    def wait_then_stop(self, server: Any, adapter: Any) -> None:
        """Blocks the main thread until a stop is requested, carries it out, and exits."""
        while not self._requested.wait(1.0):
            pass
        grace = self._grace
        log.info("stopping (%s): %.1f s grace for calls in flight", self._reason, grace)
        deadline = threading.Thread(
            target=_overrun_after, args=(grace + STOP_DEADLINE_MARGIN_SECONDS,),
            name="snakepit-stop-deadline", daemon=True)
        deadline.start()
        server.stop(grace).wait()
        code = 0
        try:
            adapter.teardown()
        except BaseException:  # noqa: B902 - report it, then still exit
            log.exception("adapter teardown() raised")
            code = STOP_FAILED
        log.info("stopped; exiting %d", code)
        exit_now(code)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _default_stop_signals() -> None:
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _overrun_after(seconds: float) -> None:
    time.sleep(seconds)
    log.error("graceful stop took longer than %.1f s; exiting %d", seconds, STOP_FAILED)
    exit_now(STOP_FAILED)


def exit_now(code: int) -> None:
    """Flushes what can be flushed and ends the process without waiting for other threads.

    A normal interpreter exit would join tool threads still running and non-daemonic
    multiprocessing children, which may never end; teardown() is the place for cleanup.
    """
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: B902 - nothing may keep us from exiting
        pass
    os._exit(code)
