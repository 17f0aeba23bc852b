"""FlowAdapter: tools for the JVM's tests of typed calls and backpressured streams (put on python-path by them)."""

import os

from snakepit_worker import Adapter, current_call, tool

# The progress file is rewritten in place at offset 0, padded to this width, so a reader never sees a torn line.
_WIDTH = 64


class FlowAdapter(Adapter):
    """Echoes, returns lists, and streams while recording how far its generator got."""

    @tool
    def echo(self, **kwargs):
        return kwargs

    @tool
    def points(self, n):
        """[{"x": 0, "y": 0}, {"x": 1, "y": 1}, {"x": 2, "y": 4}, ...], n of them."""
        return [{"x": i, "y": i * i} for i in range(n)]

    @tool
    def produce(self, count, size, progress, fail_after=None):
        """Yields {"i": i, "pad": "x" * size} for i below count; with fail_after, raises ValueError after that many
        items. Before each yield it writes to the file progress
        "<items yielded so far> running"; when the generator ends, "<items> finished", or, when closed early,
        "<items> closed cancelled=<whether current_call() saw the caller cancel>"."""
        pad = "x" * size
        fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        produced, state = 0, "closed"
        try:
            for i in range(count):
                if i == fail_after:
                    state = "failed"
                    raise ValueError("produce failed after %d items, as asked" % fail_after)
                produced = i + 1
                _record(fd, "%d running" % produced)
                yield {"i": i, "pad": pad}
            state = "finished"
        finally:
            if state == "closed":
                state = "closed cancelled=%s" % current_call().cancelled()
            _record(fd, "%d %s" % (produced, state))
            os.close(fd)


def _record(fd, line):
    os.pwrite(fd, line.ljust(_WIDTH).encode() + b"\n", 0)
