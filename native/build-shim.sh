#!/bin/sh
# build-shim.sh SRCDIR OUTDIR: builds the snakepit shim (every SRCDIR/*.c, with SRCDIR/shim.h) with the project's
# warning flags, statically linked, for x86_64 and aarch64, into OUTDIR/snakepit-shim-linux-ARCH (ARCH named as
# os-maven-plugin does: x86_64, aarch_64), and copies the C source to OUTDIR/shim-src/ (listed in its FILES) so that
# a machine of another architecture can compile it at run time (ShimBinary).
#
# This machine's architecture is built with ${CC:-cc}: statically if it can link so (the static C library, libc6-dev
# on Debian), else dynamically with a warning. The other one needs a cross compiler (CC_AARCH64, default
# aarch64-linux-gnu-gcc; CC_X86_64, default x86_64-linux-gnu-gcc) and is always static; without one it is skipped
# with a warning naming the package to install, and the build still succeeds.
set -eu

if [ "$#" -ne 2 ]; then
  echo "usage: build-shim.sh SRCDIR OUTDIR" >&2
  exit 64
fi
srcdir=$1
outdir=$2
cc=${CC:-cc}
flags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"

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

mkdir -p "$outdir"
tmp="$outdir/.build.$$"
log="$outdir/.build.$$.log"
trap 'rm -rf "$tmp" "$tmp.src" "$log"' EXIT

# The resource name's suffix for an architecture as uname -m says it (os-maven-plugin's names, as the jar had).
resource_arch() {
  case "$1" in
    x86_64) echo x86_64 ;;
    aarch64) echo aarch_64 ;;
    *) echo "$1" ;;
  esac
}

# compile ARCH COMPILER LINKFLAGS: builds OUTDIR/snakepit-shim-linux-ARCH beside it and renames it, so an
# interrupted build never leaves a half-written binary. The compiler's output goes to $log.
compile() {
  arch=$1 compiler=$2 link=$3
  shift 3
  # shellcheck disable=SC2086 # the compiler and the flags are split into words on purpose
  if $compiler $flags $link -o "$tmp" "$@" >"$log" 2>&1; then
    mv -f "$tmp" "$outdir/snakepit-shim-linux-$(resource_arch "$arch")"
    return 0
  fi
  return 1
}

host=$(uname -m)

# This machine's architecture: static (-s: no symbols, a third of the size), else dynamic, else the build fails.
if ! compile "$host" "$cc" "-static -s" "$@"; then
  static_error=$(grep -m 1 -i 'error\|cannot find' "$log" || head -n 1 "$log")
  if ! compile "$host" "$cc" "-s" "$@"; then
    cat "$log" >&2
    echo "snakepit: the shim did not compile with '$cc' (the compiler's messages are above)" >&2
    exit 1
  fi
  echo "snakepit: warning: the $host shim could not be linked statically ($static_error); it was linked" \
    "dynamically instead and runs only where this machine's C library version or a newer one is. Install the" \
    "static C library: 'apt-get install libc6-dev' (Debian/Ubuntu) or 'dnf install glibc-static' (Fedora)." >&2
fi

# The other architecture, cross-compiled, static only: a dynamic one would need the cross C library's version.
case "$host" in
  x86_64) other=aarch64 other_cc=${CC_AARCH64:-aarch64-linux-gnu-gcc} variable=CC_AARCH64
    packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
  aarch64) other=x86_64 other_cc=${CC_X86_64:-x86_64-linux-gnu-gcc} variable=CC_X86_64
    packages="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;;
  *) other= ;;
esac
if [ -n "$other" ]; then
  shipped="$outdir/snakepit-shim-linux-$(resource_arch "$other")"
  # A binary from an earlier build must not outlive a build that could not make it.
  rm -f "$shipped"
  if ! command -v "${other_cc%% *}" >/dev/null 2>&1; then
    echo "snakepit: warning: no $other shim in this build: its cross compiler '$other_cc' is not on PATH, so an" \
      "$other machine will compile the shim with its own cc at first start. Install it: 'apt-get install" \
      "$packages' (Debian/Ubuntu), or set $variable." >&2
  elif ! compile "$other" "$other_cc" "-static -s" "$@"; then
    cat "$log" >&2
    echo "snakepit: warning: no $other shim in this build: '$other_cc' did not build it statically (its messages" \
      "are above). Install the static C library for $other: 'apt-get install $packages' (Debian/Ubuntu)." >&2
  fi
fi

# The source, for the architectures shipped without a binary.
mkdir -p "$tmp.src"
cp "$srcdir"/*.c "$srcdir"/*.h "$tmp.src/"
(cd "$tmp.src" && ls -1 ./*.c ./*.h | sed 's|^\./||' > FILES)
rm -rf "$outdir/shim-src"
mv "$tmp.src" "$outdir/shim-src"
