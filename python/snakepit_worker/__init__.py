"""snakepit_worker: serves a Python adapter's tools to the JVM over gRPC.

Write an adapter::

    from snakepit_worker import Adapter, tool

    class Greeter(Adapter):
        @tool
        def greet(self, name):
            return {"greeting": "hello " + name}

and run it with ``python -m snakepit_worker --adapter mypkg.greeter:Greeter --socket PATH``.

A tool calls back into the JVM with ``snakepit_worker.host.call(name, **kwargs)`` (the host tools the
application registered; see ``snakepit_worker.host``).
"""

from snakepit_worker.adapter import Adapter, tool
from snakepit_worker.call import CallContext, current_call

__all__ = ["Adapter", "CallContext", "current_call", "tool", "__version__"]

__version__ = "0.1.0"
