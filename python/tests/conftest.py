"""Puts a freshly assembled snakepit_worker (the sources plus the generated message classes) on sys.path.

The generated classes exist only once build-python.sh has run, so the package is assembled from the
current sources into a temporary directory before any test imports it, with the protoc that
$SNAKEPIT_PROTOC names (the Maven build sets it), else the build's copy in python/target/protoc.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_PYTHON_DIR = Path(__file__).resolve().parent.parent
PROTOC = os.environ.get("SNAKEPIT_PROTOC") or str(_PYTHON_DIR / "target" / "protoc" / "protoc")
BUILT = Path(tempfile.mkdtemp(prefix="snakepit-worker-tests-"))
atexit.register(shutil.rmtree, BUILT, True)
subprocess.run(["bash", str(_PYTHON_DIR / "build-python.sh"), PROTOC, str(BUILT)], check=True)
sys.path.insert(0, str(BUILT))


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

    def abort(self, code, details):
        raise Aborted(code, details)


class Aborted(Exception):
    """What FakeContext.abort raises, as grpc's does, with the status a test checks."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code, details))
        self.code = code
        self.details = details


@pytest.fixture
def context():
    return FakeContext()
