#!/usr/bin/env bash
# setup-venv.sh VENV_DIR
#
# Makes VENV_DIR a Python virtual environment with grpcio and protobuf, which the worker needs to
# run, hatchling, which package-python.sh builds the worker's wheel with, pytest, which runs
# the worker package's unit tests (python/tests), and opentelemetry-api, with which those tests and
# the integration tests' workers exercise the worker's optional span per traced call. Idempotent: when the
# environment already has them it does nothing and prints nothing. The base Python is
# $SNAKEPIT_PYTHON, else python3 on PATH; it must be 3.9 or newer. Progress goes to stderr.
set -eu

say() { echo "snakepit: [python] $*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 VENV_DIR" >&2; exit 2; }
venv=$1
# The worker runs on grpcio 1.51.1 and protobuf 4.21.12 and up (pyproject.toml); the build's own
# environment takes the newest, as a new user's pip would.
packages=("grpcio>=1.51.1" "protobuf>=4.21.12" "hatchling" "pytest" "opentelemetry-api==1.45.0")

ready() {
    [ -x "$venv/bin/python" ] &&
        "$venv/bin/python" -c "import grpc, google.protobuf, hatchling, pytest, opentelemetry.trace" >/dev/null 2>&1
}

ready && exit 0

created=0
[ -e "$venv" ] || created=1
mkdir -p "$venv" || die "cannot create $venv"
# A failed first run leaves no empty directory behind (a partial environment is redone next time).
trap 'rc=$?; if [ $rc -ne 0 ] && [ $created = 1 ]; then rmdir "$venv" 2>/dev/null || true; fi' EXIT
venv=$(cd "$venv" && pwd)
# Two builds or JVMs may set up the same environment at once: the second waits for the first.
if command -v flock >/dev/null 2>&1; then
    exec 9<"$venv"
    flock 9
    ready && exit 0
fi

if [ -n "$(ls -A "$venv")" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    die "$venv exists and is not a virtual environment (no pyvenv.cfg); name an empty or new directory"
fi

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import pip" >/dev/null 2>&1; then
    say "completing the virtual environment in $venv"
else
    base=${SNAKEPIT_PYTHON:-python3}
    command -v "$base" >/dev/null 2>&1 ||
        die "cannot find '$base'. Install Python 3.9 or newer (Debian/Ubuntu: apt-get install python3 python3-venv) or point SNAKEPIT_PYTHON at one"
    version=$("$base" -c 'import platform; print(platform.python_version())' 2>/dev/null) ||
        die "'$base' does not run as Python; point SNAKEPIT_PYTHON at a Python 3.9 or newer"
    "$base" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
        die "'$base' ($(command -v "$base")) is Python $version; snakepit needs 3.9 or newer. Install a newer Python (Debian/Ubuntu: apt-get install python3; or pyenv, or your distribution's python3.X package) and point SNAKEPIT_PYTHON at it"

    say "creating virtual environment in $venv (Python $version from $(command -v "$base"))"
    if ! output=$("$base" -m venv --clear "$venv" 2>&1); then
        echo "$output" >&2
        hint="check that '$base -m venv' works"
        if [ -f /etc/debian_version ]; then
            minor=$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
            hint="on Debian/Ubuntu the venv module comes separately: apt-get install python3-venv (or python$minor-venv)"
        fi
        die "cannot create a virtual environment with $base: $hint"
    fi
fi

say "installing grpcio, protobuf, hatchling, pytest, opentelemetry-api (this takes a minute on first run)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2 ||
    die "pip could not install ${packages[*]} into $venv; see pip's messages above (is a package index reachable?)"

ready || die "$venv/bin/python still cannot import grpc, google.protobuf, hatchling, pytest and opentelemetry after pip install"
say "virtual environment ready: $venv/bin/python"
