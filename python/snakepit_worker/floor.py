"""The oldest grpcio and protobuf the worker runs on, checked before the generated stubs load.

python/pyproject.toml's dependencies name the same versions; tests/test_floor.py holds them equal.
"""

import re
import sys
from typing import Optional, Tuple

# The versions the floor test runs the worker on (Debian 12's python3-grpcio and python3-protobuf).
GRPCIO = "1.51.1"
# protobuf's Python releases count 4.21.x where protoc and Debian's package say 3.21.x: this is
# the Python release, the one google.protobuf.__version__ and pip report.
PROTOBUF = "4.21.12"


def problem() -> Optional[str]:
    """None when grpcio and protobuf are there and new enough; else what is wrong and the fix."""
    found_grpcio = _version("grpc")
    found_protobuf = _version("google.protobuf")
    if _at_least(found_grpcio, GRPCIO) and _at_least(found_protobuf, PROTOBUF):
        return None
    return ("needs grpcio >= %s and protobuf >= %s; %s has grpcio %s and protobuf %s. Install "
            "them: %s -m pip install 'grpcio>=%s' 'protobuf>=%s'"
            % (GRPCIO, PROTOBUF, sys.executable, found_grpcio, found_protobuf, sys.executable,
               GRPCIO, PROTOBUF))


def _version(module: str) -> str:
    try:
        imported = __import__(module, fromlist=["__version__"])
    except ImportError as e:
        return "missing (%s)" % e  # keeps Python's "No module named ..." for the JVM's diagnosis
    return str(getattr(imported, "__version__", "unknown"))


def _at_least(found: str, floor: str) -> bool:
    parsed = _parse(found)
    if parsed is None:
        return not found.startswith("missing")  # an unnumbered build is let through
    return parsed >= _parse(floor)


def _parse(text: str) -> Optional[Tuple[int, int, int]]:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
