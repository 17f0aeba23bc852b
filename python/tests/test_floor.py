"""The worker's grpcio/protobuf floor: the same in pyproject.toml, checked at start, built into the wheel."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import BUILT
from snakepit_worker import floor

PYTHON_DIR = Path(__file__).resolve().parent.parent


def _pyproject_dependencies():
    text = (PYTHON_DIR / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    return re.findall(r'"([^"]+)"', block)


def test_pyproject_names_the_floor_the_worker_checks():
    assert _pyproject_dependencies() == ["grpcio>=" + floor.GRPCIO, "protobuf>=" + floor.PROTOBUF]


def test_the_build_environment_is_above_the_floor():
    assert floor.problem() is None


def test_an_old_grpcio_is_named_with_the_versions_needed_and_the_pip_command(monkeypatch):
    found = {"grpc": "1.40.0", "google.protobuf": "7.36.2"}
    monkeypatch.setattr(floor, "_version", found.get)
    message = floor.problem()
    assert "has grpcio 1.40.0 and protobuf 7.36.2" in message
    assert "needs grpcio >= 1.51.1 and protobuf >= 4.21.12" in message
    assert message.endswith("-m pip install 'grpcio>=1.51.1' 'protobuf>=4.21.12'")


@pytest.mark.parametrize("found, ok", [
    ("4.21.12", True), ("4.21.11", False), ("3.21.12", False), ("7.36.2", True),
    ("5.26.0rc2", True), ("4.21", False), ("missing (No module named 'google')", False),
])
def test_protobuf_versions_compare_by_number(monkeypatch, found, ok):
    versions = {"grpc": floor.GRPCIO, "google.protobuf": found}
    monkeypatch.setattr(floor, "_version", versions.get)
    assert (floor.problem() is None) == ok


# A package that stands in for an older release: only its __version__ is read before the worker
# gives up, and neither grpcio nor protobuf below the floor installs from this machine's index.
@pytest.mark.parametrize("module, version, found", [
    ("grpc", "1.40.0", "grpcio 1.40.0"),
    ("google/protobuf", "3.20.3", "protobuf 3.20.3"),
])
def test_a_worker_below_the_floor_exits_5_before_loading_the_stubs(tmp_path, module, version, found):
    package = tmp_path / "old" / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = %r\n" % version)
    proc = subprocess.run(
        [sys.executable, "-m", "snakepit_worker", "--adapter",
         "snakepit_worker.examples.basic:BasicAdapter", "--socket", str(tmp_path / "s")],
        env={"PYTHONPATH": "%s:%s" % (tmp_path / "old", BUILT), "PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 5, proc.stderr
    assert found in proc.stderr
    assert ("-m pip install 'grpcio>=%s' 'protobuf>=%s'" % (floor.GRPCIO, floor.PROTOBUF)
            in proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()


def _wheel_source(tmp_path, with_generated):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(PYTHON_DIR / "pyproject.toml", source)
    shutil.copy(PYTHON_DIR / "hatch_build.py", source)
    shutil.copytree(BUILT / "snakepit_worker", source / "snakepit_worker")
    if not with_generated:
        shutil.rmtree(source / "snakepit_worker" / "_proto")
    return source


def test_the_wheel_carries_the_generated_classes_and_requires_the_floor(tmp_path, monkeypatch):
    from hatchling.build import build_wheel
    monkeypatch.chdir(_wheel_source(tmp_path, with_generated=True))
    wheel = zipfile.ZipFile(str(tmp_path / build_wheel(str(tmp_path))))
    names = wheel.namelist()
    assert "snakepit_worker/_proto/worker_pb2.py" in names
    assert "snakepit_worker/floor.py" in names
    metadata = wheel.read("snakepit_worker-0.1.0.dist-info/METADATA").decode()
    assert re.findall(r"^Requires-Dist: (.*)$", metadata, re.M) == _pyproject_dependencies()
    assert "snakepit-worker = snakepit_worker.__main__:main" in wheel.read(
        "snakepit_worker-0.1.0.dist-info/entry_points.txt").decode()


def test_no_wheel_is_built_without_the_generated_classes(tmp_path, monkeypatch):
    from hatchling.build import build_wheel
    monkeypatch.chdir(_wheel_source(tmp_path, with_generated=False))
    with pytest.raises(RuntimeError, match="worker_pb2.py is missing.*build-python.sh PROTOC"):
        build_wheel(str(tmp_path))
    assert list(tmp_path.glob("*.whl")) == []
