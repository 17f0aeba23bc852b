"""A worker's start: what it leaves unloaded (grpc's asyncio API), and the stand-ins that defer it."""

import json
import os
import subprocess
import sys
import textwrap
import types

import pytest

import conftest
from snakepit_worker import _deferred

PROBE = textwrap.dedent('''
    import sys

    from snakepit_worker import Adapter, _deferred, tool

    NAMES = ("asyncio", "grpc.aio")


    class Probe(Adapter):
        @tool
        def loaded(self):
            return {name: _deferred.loaded(name) for name in NAMES}

        @tool
        def run_coroutine(self, value):
            import asyncio

            async def echo():
                await asyncio.sleep(0)
                return value

            return asyncio.run(echo())
''')


@pytest.fixture
def worker(tmp_path):
    """A real worker of the probe adapter, serving on a socket in tmp_path; yields a caller."""
    (tmp_path / "start_probe.py").write_text(PROBE)
    socket = tmp_path / "w.sock"
    ready_read, ready_write = os.pipe()
    env = dict(os.environ, SNAKEPIT_READY_FD=str(ready_write),
               PYTHONPATH=os.pathsep.join((str(conftest.BUILT), str(tmp_path))))
    launcher = conftest._PYTHON_DIR / "bin" / "snakepit_worker"
    process = subprocess.Popen(
        [sys.executable, str(launcher), "--adapter", "start_probe:Probe", "--socket", str(socket)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=(ready_write,))
    os.close(ready_write)
    try:
        with os.fdopen(ready_read, "rb") as ready:
            line = ready.readline()  # EOF if the worker fails: its stderr says why
        assert line == b"READY\n", process.stderr.read(4000) if process.poll() is not None else line
        import grpc
        from snakepit_worker._proto import worker_pb2
        with grpc.insecure_channel("unix:" + str(socket)) as channel:
            execute = channel.unary_unary(
                "/snakepit.v1.Worker/Execute",
                request_serializer=worker_pb2.ExecuteRequest.SerializeToString,
                response_deserializer=worker_pb2.ExecuteResponse.FromString)

            def call(tool, **args):
                response = execute(worker_pb2.ExecuteRequest(tool=tool, args_json=json.dumps(args)),
                                   timeout=30)
                assert response.HasField("value"), response.error
                return json.loads(response.value.json)

            yield call
    finally:
        process.stdin.close()  # the lifeline: EOF ends the worker
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            process.stderr.close()


def test_a_started_worker_that_served_a_call_has_not_loaded_grpcs_asyncio_api(worker):
    assert worker("loaded") == {"asyncio": False, "grpc.aio": False}


def test_a_tool_that_uses_asyncio_gets_the_real_module(worker):
    assert worker("run_coroutine", value=[1, "two"]) == [1, "two"]
    assert worker("loaded") == {"asyncio": True, "grpc.aio": False}


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A directory on sys.path for throwaway modules, which are dropped from sys.modules after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_stand_in_loads_the_module_on_the_first_attribute_read(module_dir):
    (module_dir / "deferred_probe.py").write_text("import sys\nsys.deferred_probe_ran = True\nVALUE = 42\n")
    sys.deferred_probe_ran = False
    _deferred.defer("deferred_probe")
    import deferred_probe
    assert not sys.deferred_probe_ran and not _deferred.loaded("deferred_probe")
    assert isinstance(deferred_probe, types.ModuleType)
    assert deferred_probe.__file__ == str(module_dir / "deferred_probe.py")  # read without loading
    assert not sys.deferred_probe_ran
    assert deferred_probe.VALUE == 42
    assert sys.deferred_probe_ran and _deferred.loaded("deferred_probe")
    import deferred_probe as again
    assert again is sys.modules["deferred_probe"] and again is not deferred_probe
    assert again.VALUE == 42


def test_a_submodule_import_through_a_stand_in_loads_the_package_first(module_dir):
    package = module_dir / "deferred_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("FROM_INIT = 'init'\n")
    (package / "part.py").write_text("FROM_PART = 'part'\n")
    _deferred.defer("deferred_pkg")
    from deferred_pkg import part
    import deferred_pkg
    assert part.FROM_PART == "part"
    assert deferred_pkg.FROM_INIT == "init" and deferred_pkg.part is part


def test_missing_and_already_imported_modules_are_left_alone(module_dir):
    _deferred.defer("no_such_module_anywhere", "os")
    assert "no_such_module_anywhere" not in sys.modules
    assert sys.modules["os"] is os
    with pytest.raises(ImportError):
        import no_such_module_anywhere  # noqa: F401
