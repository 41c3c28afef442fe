#!/usr/bin/env bash
# Fixed cost per process: a trivial program started many times, plain and
# under heapscope (preloaded; preloaded with HEAPCHECK=normal; preloaded
# with CPUPROFILE) and gperftools' CPU profiler (libprofiler preloaded with
# CPUPROFILE, when installed), interleaved, medians of the start-to-exit
# times and of the paired differences. The CPU profiles go to BENCH_OUT
# (each start replaces the previous one, as repeated runs of a program do).
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

GPERF=/usr/lib/x86_64-linux-gnu/libprofiler.so.0
[[ -e $GPERF ]] || GPERF=
log "$STARTS starts per configuration, interleaved${GPERF:+ (gperftools: $GPERF)}"
res=$(env SPAWN_A="" SPAWN_B="LD_PRELOAD=$LIB" SPAWN_C="LD_PRELOAD=$LIB HEAPCHECK=normal" \
  SPAWN_D="LD_PRELOAD=$LIB CPUPROFILE=$OUT/hs.prof" \
  ${GPERF:+"SPAWN_E=LD_PRELOAD=$GPERF CPUPROFILE=$OUT/gp.prof"} \
  "$BIN/spawnbench" "$STARTS" "$BIN/trivial" 2>/dev/null)
field() { sed -n "s/^RESULT config=$1 \(.* \)\{0,1\}$2=\([-0-9.]*\).*/\2/p" <<<"$res"; }
{
  echo "## Fixed cost per process"
  echo
  echo "A program whose main returns 0, started $STARTS times per configuration, the"
  echo "configurations interleaved; start-to-exit wall time (fork/exec to waitpid) and the"
  echo "child's CPU time (user + system: what a loaded machine disturbs least). Load"
  echo "average at start $l1 $l5 $l15; libheapscope.so needs: $NEEDED."
  echo
  echo "| configuration | wall per start, median (ms) | extra vs plain, paired median (ms) | CPU per start, median (ms) | CPU extra vs plain, paired median (ms) | CPU extra vs heapscope preloaded, paired median (ms) |"
  echo "|---|---|---|---|---|---|"
  echo "| plain | $(field A median_ms) | - | $(field A cpu_median_ms) | - | - |"
  echo "| heapscope preloaded | $(field B median_ms) | $(field B extra_ms) | $(field B cpu_median_ms) | $(field B cpu_extra_ms) | - |"
  row() { echo "| $1 | $(field "$2" median_ms) | $(field "$2" extra_ms) | $(field "$2" cpu_median_ms) | $(field "$2" cpu_extra_ms) | $(field "$2" cpu_vs_b_ms) |"; }
  row "heapscope preloaded, HEAPCHECK=normal" C
  row "heapscope preloaded, CPUPROFILE" D
  [[ -z $GPERF ]] || row "gperftools libprofiler preloaded, CPUPROFILE" E
} | tee "$OUT/report.md"
