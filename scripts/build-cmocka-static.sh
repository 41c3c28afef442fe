#!/usr/bin/env bash
# Build Debian 12's cmocka 1.1.5 source package as a static library, for the
# tests of heapscope's static-CMocka support (a vendored, statically linked
# CMocka, as many projects ship it). Nothing of CMocka is kept in this repo:
# the source comes from Debian with `apt-get source`.
#
#   scripts/build-cmocka-static.sh OUTDIR
#
# leaves OUTDIR/include/cmocka.h and OUTDIR/lib/libcmocka.a. A second run with
# the same OUTDIR does nothing (the CI pays for it once per run: test.sh puts
# OUTDIR in the build tree). Adds a deb-src line for bookworm when none is
# configured (root, or sudo).
set -euo pipefail
out=${1:?usage: build-cmocka-static.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
want=1.1.5
stamp="$out/.built-$want"
[ -f "$stamp" ] && [ -f "$out/lib/libcmocka.a" ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# dpkg-source unpacks and patches the source package; xz for its tarballs.
for p in dpkg-dev xz-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done

# apt-get source needs a deb-src line; a clean Debian 12 has none.
if ! apt-get source --print-uris -qq cmocka >/dev/null 2>&1; then
  echo "heapscope: adding a deb-src line for bookworm (/etc/apt/sources.list.d/heapscope-deb-src.sources)" >&2
  printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
    $sudo tee /etc/apt/sources.list.d/heapscope-deb-src.sources >/dev/null
  $sudo apt-get update -qq
fi

work="$out/src"
rm -rf "$work"
mkdir -p "$work"
if ! (cd "$work" && apt-get source -qq cmocka >"$work/apt-source.log" 2>&1); then
  cat "$work/apt-source.log" >&2
  exit 1
fi
srcdir=$(find "$work" -maxdepth 1 -type d -name "cmocka-*" | head -n 1)
if [ -z "$srcdir" ] || [ "$(basename "$srcdir")" != "cmocka-$want" ]; then
  echo "heapscope: apt-get source cmocka gave '${srcdir:-nothing}', expected cmocka-$want" >&2
  exit 1
fi

# Debian's own compiler flags (dpkg-buildflags), static library only.
cflags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS 2>/dev/null || echo "-g -O2")
cmake -S "$srcdir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >/dev/null
cmake --build "$work/build" --target cmocka-static >/dev/null
mkdir -p "$out/lib" "$out/include"
cp "$(find "$work/build" -name libcmocka-static.a -o -name libcmocka.a | head -n 1)" "$out/lib/libcmocka.a"
cp "$srcdir/include/cmocka.h" "$out/include/"
echo "$want" > "$stamp"
