"""Puts a freshly assembled snakepit_worker (the sources plus the generated gRPC stubs) on sys.path.

The stubs exist only once build-python.sh has run, so the package is assembled from the current
sources into a temporary directory before any test imports it.
"""

import atexit
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_PYTHON_DIR = Path(__file__).resolve().parent.parent
_BUILT = Path(tempfile.mkdtemp(prefix="snakepit-worker-tests-"))
atexit.register(shutil.rmtree, _BUILT, True)
subprocess.run(["bash", str(_PYTHON_DIR / "build-python.sh"), sys.executable, str(_BUILT)], check=True)
sys.path.insert(0, str(_BUILT))


class FakeContext:
    """The part of a grpc.ServicerContext the worker uses, settable by a test."""

    def __init__(self, active=True, remaining=None):
        self.active = active
        self.remaining = remaining
        self.callbacks = []

    def is_active(self):
        return self.active

    def time_remaining(self):
        return self.remaining

    def add_callback(self, callback):
        self.callbacks.append(callback)
        return True


@pytest.fixture
def context():
    return FakeContext()
