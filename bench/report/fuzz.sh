#!/usr/bin/env bash
# The long fuzz run of `heapscope report`'s readers and writers (ctest runs
# the same harness for a few seconds: report.fuzz). Builds the tests' build
# (AddressSanitizer + UBSan harness), makes seed profiles of every format,
# and mutates them for BENCH_FUZZ_SECONDS (default 600).
#
#   bench/report/fuzz.sh
#   BENCH_FUZZ_SECONDS=3600 bench/report/fuzz.sh
# A crash leaves its input in $OUT/last-input and the seed on stdout:
#   fuzz_report --replay last-input     reproduces it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-fuzz}
OUT=$BUILD/fuzz-report
SECS=${BENCH_FUZZ_SECONDS:-600}
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target fuzz_report rp_prog heapscope -j2 >/dev/null
BIN=$BUILD/tests/report/bin
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
python3 "$ROOT/tests/report/gen_profiles.py" "$BIN/rp_prog" syn
seeds=(syn/cpu.prof syn/cpu32be.prof syn/heap.heap syn/unsym.pb.gz syn/sym.pb)
env LD_PRELOAD="$BUILD/lib/libheapscope.so" HEAPPROFILE="$OUT/h" "$BIN/rp_prog" heap >/dev/null 2>&1
env LD_PRELOAD="$BUILD/lib/libheapscope.so" HEAPPROFILE="$OUT/p" HEAPSCOPE_PROFILE_FORMAT=proto \
  "$BIN/rp_prog" heap >/dev/null 2>&1
env LD_PRELOAD="$BUILD/lib/libheapscope.so" HEAPCHECK=normal HEAPSCOPE_LEAK_PROFILE="$OUT/leaks.heap" \
  "$BIN/rp_prog" leak >/dev/null 2>&1 || true
seeds+=(h.0001.heap p.0001.pb.gz leaks.heap)
if [ -e /usr/lib/x86_64-linux-gnu/libprofiler.so ]; then
  env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libprofiler.so CPUPROFILE="$OUT/g.prof" \
    "$BIN/rp_prog" cpu 300 >/dev/null 2>&1
  seeds+=(g.prof)
fi
echo "fuzzing for $SECS s with ${#seeds[@]} seeds" >&2
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$BIN/fuzz_report" --seconds "$SECS" --save "$OUT/last-input" "${seeds[@]}"
