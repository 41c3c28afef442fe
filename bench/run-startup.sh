#!/usr/bin/env bash
# Fixed cost per process: a trivial program started many times, plain and
# under heapscope (preloaded; preloaded with HEAPCHECK=normal), interleaved,
# medians of the start-to-exit times and of the paired differences.
#
#   bench/run-startup.sh
#   HEAPSCOPE_LIB=build/lib/libheapscope.so BENCH_STARTS=500 bench/run-startup.sh
#
# Environment: BENCH_STARTS (starts per configuration, default 300),
# HEAPSCOPE_LIB (use this library, build nothing), BENCH_BUILD_DIR
# (default <repo>/build-bench-startup), BENCH_OUT (results dir).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-startup}
OUT=${BENCH_OUT:-$BUILD/bench-startup}
STARTS=${BENCH_STARTS:-300}
log() { printf '[bench-startup] %s\n' "$*" >&2; }
die() { printf '[bench-startup] error: %s\n' "$*" >&2; exit 1; }
case $STARTS in '' | *[!0-9]* | 0) die "BENCH_STARTS must be a positive integer" ;; esac

source "$ROOT/bench/lib.sh"
bench_heapscope_lib

BIN=$OUT/bin
mkdir -p "$BIN"
gcc -O2 "$ROOT/bench/startup/spawnbench.c" -o "$BIN/spawnbench"
gcc -O2 "$ROOT/bench/startup/trivial.c" -o "$BIN/trivial"
# What the runtime maps at start-up (libraries loaded on first use stay out).
NEEDED=$(readelf -d "$LIB" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')
read -r l1 l5 l15 _ </proc/loadavg

log "$STARTS starts per configuration, interleaved"
res=$(SPAWN_A="" SPAWN_B="LD_PRELOAD=$LIB" SPAWN_C="LD_PRELOAD=$LIB HEAPCHECK=normal" \
  "$BIN/spawnbench" "$STARTS" "$BIN/trivial")
field() { sed -n "s/^RESULT config=$1 \(.* \)\{0,1\}$2=\([-0-9.]*\).*/\2/p" <<<"$res"; }
{
  echo "## Fixed cost per process"
  echo
  echo "A program whose main returns 0, started $STARTS times per configuration, the three"
  echo "configurations interleaved; start-to-exit wall time (fork/exec to waitpid) and the"
  echo "child's CPU time (user + system: what a loaded machine disturbs least). Load"
  echo "average at start $l1 $l5 $l15; libheapscope.so needs: $NEEDED."
  echo
  echo "| configuration | wall per start, median (ms) | extra vs plain, paired median (ms) | CPU per start, median (ms) | CPU extra vs plain, paired median (ms) |"
  echo "|---|---|---|---|---|"
  echo "| plain | $(field A median_ms) | - | $(field A cpu_median_ms) | - |"
  echo "| heapscope preloaded | $(field B median_ms) | $(field B extra_ms) | $(field B cpu_median_ms) | $(field B cpu_extra_ms) |"
  echo "| heapscope preloaded, HEAPCHECK=normal | $(field C median_ms) | $(field C extra_ms) | $(field C cpu_median_ms) | $(field C cpu_extra_ms) |"
} | tee "$OUT/report.md"
