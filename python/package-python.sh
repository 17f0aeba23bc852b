#!/usr/bin/env bash
# package-python.sh PYTHON DEST: lays out the snakepit_worker package (sources plus generated stubs)
# under DEST/dist and writes DEST/dist.index: a digest line, then one relative path per file.
# The JVM unpacks the package from its jar by that index into a directory named after the digest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=$1
dest=$2
rm -rf "$dest/dist"
mkdir -p "$dest/dist"
bash "$here/build-python.sh" "$python" "$dest/dist"
cd "$dest/dist"
find . -name __pycache__ -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort > ../files.tmp
digest=$(while read -r f; do printf '%s\n' "$f"; sha256sum < "$f"; done < ../files.tmp | sha256sum | cut -c1-16)
{ echo "$digest"; cat ../files.tmp; } > ../dist.index
rm ../files.tmp
