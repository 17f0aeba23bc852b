"""Adapters for the JVM's tests of the tool bridge (put on python-path by HostToolsIT).

FrontAdapter's tools call the JVM's host tools; BackAdapter serves the pool those host tools call back into.
"""

import os

from snakepit_worker import Adapter, current_call, host, tool


class FrontAdapter(Adapter):
    """Calls host tools, and reports how a host call failed as a value the test can read."""

    @tool
    def ask(self, name, args=None):
        """host.call(name, **args), its result as is."""
        return host.call(name, **(args or {}))

    @tool
    def ask_catching(self, name, args=None):
        """As ask, with a HostError returned as {"error": class name, "type": ..., ...}."""
        try:
            return {"result": host.call(name, **(args or {}))}
        except host.HostError as e:
            return {"error": type(e).__name__, "type": e.type, "message": str(e),
                    "java_type": getattr(e, "java_type", None), "trace": getattr(e, "trace", ""),
                    "available": list(getattr(e, "available_tools", ()))}


class BackAdapter(Adapter):
    """The pool a host tool calls back into."""

    @tool
    def double(self, n):
        return {"n": 2 * n}

    @tool
    def refuse(self):
        raise ValueError("back refuses")

    @tool
    def linger(self, marker, seconds):
        """Writes MARKER.started, sleeps up to SECONDS waking when its call is cancelled, then writes
        MARKER.cancelled (it was) or MARKER.finished."""
        _touch(marker + ".started", str(current_call().time_remaining()))
        slept = current_call().sleep(seconds)
        _touch(marker + (".finished" if slept else ".cancelled"), str(os.getpid()))
        return {"slept": slept}


def _touch(path, text):
    with open(path, "w") as f:
        f.write(text)
