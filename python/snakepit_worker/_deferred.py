"""Modules the worker's start does not load until something uses them.

``import grpc`` imports ``asyncio`` (grpcio's Cython core) and ``grpc.aio``, about a quarter of a
worker's start, and the worker serves with grpc's thread-based server, which uses neither. Before
grpc is imported, :func:`defer` puts a stand-in for each into ``sys.modules``: ``import asyncio``
then binds the stand-in, and the first attribute read through it imports the real module, which
takes its own place in ``sys.modules`` from then on. A tool or adapter that uses asyncio gets the
real module, loaded the first time it reads from it.
"""

import importlib
import importlib.util
import sys
import threading
import types
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, Optional

# What grpc imports for its asyncio API alone; the worker's server needs neither.
GRPC_ASYNCIO = ("asyncio", "grpc.aio")

_swap = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute is read from it, then forwards to the real one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_real(self), name)

    def __dir__(self):  # type: ignore[override]
        return dir(_real(self))

    def __repr__(self) -> str:
        loaded = self.__dict__.get("_snakepit_real")
        return repr(loaded) if loaded is not None else "<module %r (not loaded yet)>" % self.__name__


def _real(stand_in: _Deferred) -> types.ModuleType:
    real = stand_in.__dict__.get("_snakepit_real")
    if real is not None:
        return real
    name = stand_in.__name__
    with _swap:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]  # the real import takes its place; importlib serialises racers
    real = importlib.import_module(name)
    stand_in.__dict__["_snakepit_real"] = real
    return real


def defer(*names: str) -> None:
    """Puts a stand-in in ``sys.modules`` for each module named that is not imported yet.

    A module that cannot be found is left alone, so that importing it fails as it would have.
    """
    for name in names:
        if name in sys.modules:
            continue
        spec = _find(name)
        if spec is None:
            continue
        stand_in = _Deferred(name)
        # The import machinery and importlib.util.find_spec read __spec__, inspect and pickle read
        # __file__: neither loads the module. __path__ is left out on purpose: importing a
        # submodule reads it from the parent, which then loads the real package first.
        stand_in.__spec__ = spec
        stand_in.__file__ = spec.origin
        sys.modules[name] = stand_in


def _find(name: str) -> Optional[ModuleSpec]:
    """The module's spec, found without importing its parent package (find_spec would)."""
    parent = name.rpartition(".")[0]
    try:
        if not parent:
            return importlib.util.find_spec(name)
        if parent in sys.modules:
            return None  # the parent has run its own imports already: nothing left to defer
        parent_spec = importlib.util.find_spec(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:
            return None
        return PathFinder.find_spec(name, parent_spec.submodule_search_locations)
    except (ImportError, ValueError):
        return None


def loaded(name: str) -> bool:
    """Whether the real module has been imported (a stand-in not yet read from is not)."""
    module = sys.modules.get(name)
    return module is not None and not (isinstance(module, _Deferred)
                                       and "_snakepit_real" not in module.__dict__)
