#!/usr/bin/env bash
# Set up, build with warnings as errors, and run every test through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --test
build=${HEAPSCOPE_BUILD_DIR:-$root/build-test}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPSCOPE_WERROR=ON
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300
