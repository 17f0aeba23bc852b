"""Adapters and tools: the Python code a worker serves.

An adapter is a subclass of :class:`Adapter`; its tools are the methods marked with :func:`tool`.
The worker creates one instance per process, calls ``setup()`` once before it reports ready, runs
tools on a pool of threads (so tools must be thread-safe when ``--threads`` is above 1), and calls
``teardown()`` once on a graceful stop.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any, Callable, Dict, List, Optional

# The attribute @tool sets on a function: the tool's name.
_TOOL_MARK = "__snakepit_tool__"


def tool(fn: Any = None, *, name: Optional[str] = None) -> Any:
    """Marks a method of an :class:`Adapter` subclass as a tool.

    Use it bare (``@tool``: the tool is named after the method) or with a name
    (``@tool(name="predict")`` or ``@tool("predict")``). A generator method is a streaming tool:
    each value it yields is one message of ``ExecuteStream``. Arguments arrive as keyword
    arguments decoded from JSON, plus ``payload`` (bytes) when the caller sent raw bytes.
    A tool returns bytes (sent raw) or anything ``json.dumps`` accepts.
    """
    if isinstance(fn, str) and name is None:  # @tool("predict")
        fn, name = None, fn
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError("@tool(name=...) needs a non-empty string, got %r" % (name,))

    def mark(target: Any) -> Any:
        function = target.__func__ if isinstance(target, (staticmethod, classmethod)) else target
        if not callable(function):
            raise TypeError("@tool marks methods, got %r" % (target,))
        setattr(function, _TOOL_MARK, name or function.__name__)
        return target

    return mark if fn is None else mark(fn)


def _tool_name(value: Any) -> Optional[str]:
    function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    return getattr(function, _TOOL_MARK, None)


class Adapter:
    """Base class of every adapter: subclass it and mark tools with :func:`tool`.

    A method that overrides a tool stays a tool (under the name the base class gave it) even
    without its own ``@tool``; set the attribute to ``None`` in a subclass to withdraw a tool.
    The worker instantiates the class with no arguments.

    An adapter with state worth keeping defines two more methods (the base class has neither):
    ``snapshot(self) -> dict``, the state as JSON values, which the pool takes while no tool runs
    (when the worker is recycled or stopped, and every ``snapshot.interval``), and
    ``restore(self, state)``, called after ``setup()`` and before the first call in the worker
    that replaces it, including after a crash (with the last snapshot taken).
    """

    # Tool name -> attribute name; computed for each subclass when it is defined.
    _snakepit_tools: Dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_attribute: Dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                marked = _tool_name(value)
                if marked is not None:
                    by_attribute[attribute] = marked
                elif attribute in by_attribute and value is None:
                    del by_attribute[attribute]
        tools: Dict[str, str] = {}
        for attribute, tool_name in sorted(by_attribute.items()):
            if tool_name in tools:
                raise TypeError(
                    "%s: tool name '%s' is used by both %s() and %s(); give one of them "
                    "another name with @tool(name=...)"
                    % (cls.__qualname__, tool_name, tools[tool_name], attribute))
            tools[tool_name] = attribute
        cls._snakepit_tools = tools

    def setup(self) -> None:
        """Called once, on the main thread, before the worker reports ready. Load models here."""

    def teardown(self) -> None:
        """Called once on a graceful stop, after calls in flight have finished or been cancelled."""

    def json_default(self, value: Any) -> Any:
        """Turns a value ``json.dumps`` cannot encode into one it can; raise TypeError to refuse.

        Override it to return, say, ``value.tolist()`` for numpy arrays.
        """
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

    @classmethod
    def tool_names(cls) -> List[str]:
        """The names of this adapter's tools, sorted."""
        return sorted(cls._snakepit_tools)

    def bound_tool(self, name: str) -> Optional[Callable[..., Any]]:
        """The tool called ``name``, bound to this instance, or None if there is none."""
        attribute = self._snakepit_tools.get(name)
        return None if attribute is None else getattr(self, attribute)


class AdapterSpecError(Exception):
    """The adapter spec does not name an Adapter subclass (``package.module:ClassName``)."""


class AdapterImportError(Exception):
    """Importing the adapter's module raised; ``__cause__`` is the original exception."""


def load_adapter_class(spec: str) -> type:
    """Imports ``package.module:ClassName`` (the class may be nested: ``mod:Outer.Inner``).

    Raises AdapterSpecError when the spec is malformed or names no Adapter subclass, and
    AdapterImportError when importing the module fails.
    """
    module_name, colon, qualname = spec.partition(":")
    if not colon or not module_name or not qualname or ":" in qualname:
        raise AdapterSpecError(
            "adapter spec '%s' must look like package.module:ClassName" % spec)
    try:
        module = importlib.import_module(module_name)
    except BaseException as e:  # an adapter module may even call sys.exit() on import
        if isinstance(e, KeyboardInterrupt):
            raise
        message = "%s: %s" % (qualified_type_name(type(e)), e)
        missing = getattr(e, "name", None) if isinstance(e, ModuleNotFoundError) else None
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            message += " (is the directory holding '%s' on PYTHONPATH? sys.path is %s)" % (
                missing, sys.path)
        raise AdapterImportError(message) from e
    target: Any = module
    for part in qualname.split("."):
        if not hasattr(target, part):
            defined = sorted(
                n for n, v in vars(module).items()
                if isinstance(v, type) and issubclass(v, Adapter) and v is not Adapter)
            raise AdapterSpecError(
                "adapter spec '%s': module '%s' has no attribute '%s'; Adapter subclasses "
                "it defines: %s" % (spec, module_name, qualname, ", ".join(defined) or "none"))
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, Adapter)):
        raise AdapterSpecError(
            "adapter spec '%s' names %r, which is not a subclass of snakepit_worker.Adapter"
            % (spec, target))
    return target


def qualified_type_name(cls: type) -> str:
    """``ValueError`` for builtins, ``module.QualName`` for everything else."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def describe_signature(function: Callable[..., Any]) -> str:
    """``(seconds, *, precise=False)`` for messages; empty when Python cannot tell."""
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return ""
