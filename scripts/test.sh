#!/usr/bin/env bash
# Set up, build with warnings as errors, and run every test through ctest;
# then the whole suite once more against a runtime built with its invariant
# checks on (HEAPSCOPE_DEBUG=2: hs_assert and hs_assert_expensive).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
build=${HEAPSCOPE_BUILD_DIR:-$root/build-test}
# A vendored-style static CMocka for the static-CMocka tests: Debian's cmocka
# source package built as libcmocka.a inside the build tree (once per tree).
"$root/scripts/build-cmocka-static.sh" "$build/cmocka-static"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPSCOPE_WERROR=ON \
  -DHEAPSCOPE_STATIC_CMOCKA_DIR="$build/cmocka-static"
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300

debug=${build}-debug
cmake -S "$root" -B "$debug" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPSCOPE_WERROR=ON \
  -DHEAPSCOPE_DEBUG=2 -DHEAPSCOPE_STATIC_CMOCKA_DIR="$build/cmocka-static"
cmake --build "$debug"
ctest --test-dir "$debug" --output-on-failure -j2 --timeout 300
