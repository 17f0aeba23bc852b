"""BasicAdapter: one tool of each kind, for demonstrations and the JVM's integration tests."""

import builtins
import os
import random
import signal as _signal
import socket
import sys
import threading
import time

from snakepit_worker import Adapter, current_call, tool

# The exceptions fail() can raise; anything else raises RuntimeError.
_FAILURE_KINDS = ("ValueError", "KeyError", "TypeError", "RuntimeError", "TimeoutError")


class BasicAdapter(Adapter):
    """Tools that answer, echo, wait, fail, stream, and end the process in chosen ways."""

    @tool
    def ping(self):
        return "pong"

    @tool
    def echo(self, **kwargs):
        """Returns its keyword arguments; with a raw payload, returns the payload's bytes alone."""
        payload = kwargs.get("payload")
        if isinstance(payload, bytes):
            return payload
        return kwargs

    @tool
    def sleep(self, seconds):
        """Sleeps, but stops early when the caller cancels or its deadline passes."""
        if not current_call().sleep(seconds):
            raise TimeoutError("gave up sleeping: the call was cancelled or its deadline passed")
        return seconds

    @tool
    def deadline(self, payload=None):
        """Seconds left until the call's deadline, as the worker sees it (None without one). payload is taken and
        ignored (for tests of calls with a payload)."""
        return current_call().time_remaining()

    @tool
    def crash_once(self, path):
        """Kills the worker (SIGKILL) the first time it sees path missing, creating it; afterwards answers."""
        if not os.path.exists(path):
            open(path, "w").close()
            os.kill(os.getpid(), _signal.SIGKILL)
        return "survived"

    @tool
    def spin(self, seconds):
        """Burns CPU for seconds of wall-clock time; returns the CPU seconds this process used meanwhile."""
        start = time.process_time()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pass
        return time.process_time() - start

    @tool
    def connect(self, host, port, timeout=2.0):
        """Opens a TCP connection and closes it; returns True (for tests of network isolation)."""
        with socket.create_connection((host, port), timeout=timeout):
            return True

    @tool
    def grow(self, mb):
        """Holds mb MiB more memory, written so it is resident (for tests of memory limits)."""
        if not hasattr(self, "_ballast"):
            self._ballast = []
        self._ballast.append(b"x" * (mb << 20))
        return sum(len(b) for b in self._ballast) >> 20

    @tool
    def blob(self, size, path=None, payload=None):
        """Returns size bytes of a fixed pattern (byte i is i % 251); with path, first appends a line to that file,
        which shows that the call ran. payload is taken and ignored (for tests of large arguments)."""
        if path is not None:
            with open(path, "a") as f:
                f.write("blob %d\n" % size)
        return (bytes(range(251)) * (size // 251 + 1))[:size]

    @tool
    def busy_sleep(self, seconds):
        """Sleeps without looking at the call: a tool that ignores cancellation."""
        time.sleep(seconds)
        return seconds

    @tool
    def fail(self, message="boom", kind="ValueError"):
        exception = getattr(builtins, kind) if kind in _FAILURE_KINDS else RuntimeError
        raise exception(message)

    @tool
    def stream(self, count=3, delay=0, fail_after=None):
        """Yields {"i": 0} ... {"i": count - 1}; with fail_after, raises ValueError after that many items."""
        for i in range(count):
            if fail_after is not None and i == fail_after:
                raise ValueError("stream failed after %d items, as asked" % fail_after)
            if i and delay:
                time.sleep(delay)
            yield {"i": i}

    @tool
    def traceparent(self):
        """The call's W3C traceparent, as the worker received it ("" when the call is not traced)."""
        return current_call().traceparent

    @tool
    def traceparent_header(self):
        """The traceparent gRPC header of the call's RPC ("" on the calls socket, which has no headers)."""
        metadata = getattr(current_call()._grpc, "invocation_metadata", None)
        return dict(metadata() or ()).get("traceparent", "") if metadata else ""

    @tool
    def stream_traceparent(self, count=2):
        """Yields the call's traceparent count times: a streaming call carries it too."""
        for _ in range(count):
            yield current_call().traceparent

    @tool
    def pid(self):
        return os.getpid()

    @tool
    def environ(self, names=None):
        """The worker's environment variables: those in names (the ones set), or all of them."""
        if names is None:
            return dict(os.environ)
        return {name: os.environ[name] for name in names if name in os.environ}

    @tool
    def serving_thread(self):
        """The thread running this call, and how many calls-socket connections the worker has open: shows the call path."""
        from snakepit_worker import server
        return {"thread": threading.current_thread().name, "streams": server.open_calls_streams()}

    @tool
    def sleep_pid(self, seconds):
        """Sleeps, then returns the worker's pid: shows which worker served a call."""
        time.sleep(seconds)
        return os.getpid()

    @tool
    def crash(self, signal=11):
        """Sends the worker a signal: the default, SIGSEGV, kills it as a native crash would."""
        # Aimed at this thread, so it is delivered before the call can return; the sleep covers a signal
        # that another thread happens to take.
        _signal.pthread_kill(threading.get_ident(), signal)
        time.sleep(10)
        return signal  # reached only for a signal that does not end the process

    @tool
    def maybe_crash(self, p):
        """Kills the worker (SIGKILL) with probability p, as a tool with a rare native crash would; else answers."""
        if random.random() < p:
            os.kill(os.getpid(), _signal.SIGKILL)
            time.sleep(10)  # SIGKILL ends the process before this returns
        return "ok"

    @tool
    def exit(self, code, message=None):
        """Ends the worker at once with the given exit status, as os._exit does; writes message to stderr first."""
        if message is not None:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        os._exit(code)
