#!/bin/sh
# build-shim.sh SRCDIR OUT: compiles the snakepit shim (every SRCDIR/*.c, with SRCDIR/shim.h) with ${CC:-cc}
# and the project's warning flags.
set -eu

if [ "$#" -ne 2 ]; then
  echo "usage: build-shim.sh SRCDIR OUT" >&2
  exit 64
fi
srcdir=$1
out=$2
cc=${CC:-cc}

# CC may carry words ("ccache gcc"): look up the first one.
if ! command -v "${cc%% *}" >/dev/null 2>&1; then
  echo "snakepit: no C compiler found (looked for '$cc'). The native shim is built from C at build time:" \
    "install one, e.g. 'apt-get install gcc' (Debian/Ubuntu) or 'dnf install gcc', or set CC." >&2
  exit 1
fi

set -- "$srcdir"/*.c
if [ ! -f "$1" ]; then
  echo "snakepit: no C source in '$srcdir' (expected the shim's .c files there, e.g. main.c)" >&2
  exit 66
fi

mkdir -p "$(dirname "$out")"
# Build beside OUT and rename, so an interrupted build never leaves a half-written binary.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086 # CC is split into words on purpose
$cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o "$tmp" "$@"
mv -f "$tmp" "$out"
