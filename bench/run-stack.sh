#!/usr/bin/env bash
# Unwinder benchmark: what recording costs per malloc+free through stacks
# 5-30 frames deep, with HEAPSCOPE_UNWINDER=fp, libunwind and auto (the
# default), on a binary built with frame pointers and one built without.
# See bench/stack/README.md.
#
#   bench/run-stack.sh
#   HEAPSCOPE_LIB=build/lib/libheapscope.so BENCH_RUNS=3 bench/run-stack.sh
#
# Environment: BENCH_RUNS (rounds, default 5), BENCH_DEPTHS (default
# "5 10 20 30"), BENCH_PAIRS (per timed loop, default 200000),
# HEAPSCOPE_LIB (use this library, build nothing), BENCH_BUILD_DIR
# (default <repo>/build-bench-stack), BENCH_OUT (results dir).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-stack}
OUT=${BENCH_OUT:-$BUILD/bench-stack}
log() { printf '[bench-stack] %s\n' "$*" >&2; }
die() { printf '[bench-stack] error: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required"
command -v gcc >/dev/null || die "gcc is required"

source "$ROOT/bench/lib.sh"
bench_heapscope_lib

BIN=$OUT/bin
mkdir -p "$BIN"
CFLAGS=(-O2 -g -fno-optimize-sibling-calls -fno-builtin-malloc -fno-builtin-free)
gcc "${CFLAGS[@]}" -fno-omit-frame-pointer "$ROOT/bench/stack/unwbench.c" -o "$BIN/unwbench-fp"
gcc "${CFLAGS[@]}" -fomit-frame-pointer "$ROOT/bench/stack/unwbench.c" -o "$BIN/unwbench-nofp"

exec python3 "$ROOT/bench/stack/stackbench.py" --lib "$LIB" \
  --bin-fp "$BIN/unwbench-fp" --bin-nofp "$BIN/unwbench-nofp" \
  --depths "${BENCH_DEPTHS:-5 10 20 30}" --runs "${BENCH_RUNS:-5}" \
  --pairs "${BENCH_PAIRS:-200000}" --out "$OUT"
