#!/usr/bin/env bash
# package-python.sh PYTHON PROTOC DEST: lays out what the snakepit-python jar carries under DEST.
#   DEST/dist        the snakepit_worker package (sources plus generated message classes) and
#                    bin/snakepit_worker, the script the JVM starts workers with
#   DEST/dist.index  a digest line, then one relative path per file of dist; the JVM unpacks the
#                    package by it into a directory named after the digest
#   DEST/snakepit_worker-VERSION-py3-none-any.whl  the same package as a wheel, for pip
#   DEST/wheel.name  that wheel's file name
# PYTHON needs hatchling (setup-venv.sh installs it); PROTOC is protoc 3.21.x (see build-python.sh).
set -eu
die() { echo "snakepit: [python] error: $*" >&2; exit 1; }
[ $# -eq 3 ] || { echo "usage: $0 PYTHON PROTOC DEST" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
python=$1
protoc=$2
dest=$3
# Maven's copy of the protoc artifact loses the executable bit.
[ -x "$protoc" ] || chmod u+x "$protoc" || die "cannot make $protoc executable"
rm -rf "$dest/dist"
mkdir -p "$dest/dist/bin"
bash "$here/build-python.sh" "$protoc" "$dest/dist"
cp "$here/bin/snakepit_worker" "$dest/dist/bin/snakepit_worker"

# The wheel, built by hatchling's PEP 517 hook from a copy of the assembled package: no isolation
# and no index needed, and reproducible (hatchling fixes the files' timestamps).
work=$(mktemp -d "${TMPDIR:-/tmp}/snakepit-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/pyproject.toml" "$here/hatch_build.py" "$work/"
cp -R "$dest/dist/snakepit_worker" "$work/snakepit_worker"
rm -f "$dest"/*.whl
wheel=$(cd "$work" && "$python" -c 'import sys
from hatchling.build import build_wheel
print(build_wheel(sys.argv[1]))' "$dest") ||
    die "hatchling could not build the wheel with $python (does it have hatchling? bash $here/setup-venv.sh VENV makes such an environment)"
[ -f "$dest/$wheel" ] || die "hatchling reported $wheel but $dest/$wheel does not exist"
echo "$wheel" > "$dest/wheel.name"

cd "$dest/dist"
find . -name __pycache__ -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort > ../files.tmp
digest=$(while read -r f; do printf '%s\n' "$f"; sha256sum < "$f"; done < ../files.tmp | sha256sum | cut -c1-16)
{ echo "$digest"; cat ../files.tmp; } > ../dist.index
rm ../files.tmp
