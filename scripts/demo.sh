#!/usr/bin/env bash
# The main job: set up, build, and leak-check the example CMocka suite with
# every test checked on its own, showing CMocka's verdicts and heapscope's
# symbolized reports. Exits with the suite's status (2: two tests leak).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" || exit 1
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$root/build" --target heapscope test_kvstore >/dev/null || exit 1
echo "== HEAPCHECK=normal LD_PRELOAD=build/lib/libheapscope.so build/bin/test_kvstore"
# Line-buffered stdout keeps CMocka's progress lines and its error text
# (stderr) in order when the output is piped or logged.
linebuf=()
command -v stdbuf >/dev/null && linebuf=(stdbuf -oL -eL)
HEAPCHECK=normal LD_PRELOAD="$root/build/lib/libheapscope.so" "${linebuf[@]}" \
  "$root/build/bin/test_kvstore" 2>&1
status=$?
echo "== exit status $status (CMocka counts the tests that leaked as failed)"
exit $status
