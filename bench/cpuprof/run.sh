#!/usr/bin/env bash
# CPU profiler benchmark: overhead on a CPU-bound and a syscall-heavy
# program at 100, 1000 and 4000 Hz, against the unprofiled run and against
# gperftools' libprofiler in the same rounds, and sample accuracy (the
# profile's total against the CPU time the process really used). See
# bench/cpuprof/README.md.
#
# Environment:
#   BENCH_RUNS            rounds (default 5); every config once per round,
#                         in an order rotated by one each round
#   BENCH_CPU_ROUNDS      work of the CPU-bound program (default 170000, ~1 s)
#   BENCH_SYSCALL_ROUNDS  work of the syscall-heavy one (default 250000, ~1 s)
#   BENCH_BUILD_DIR       heapscope build dir (default <repo>/build-bench-cpuprof)
#   HEAPSCOPE_LIB         use this libheapscope.so, build nothing
#   BENCH_OUT             results dir (default $BENCH_BUILD_DIR/bench-cpuprof)
#   BENCH_NO_INSTALL      1: never apt-get (gperftools' libprofiler)
# Output: Markdown on stdout and in $BENCH_OUT/report.md; every run in
# $BENCH_OUT/raw.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-cpuprof}
OUT=${BENCH_OUT:-$BUILD/bench-cpuprof}
log() { printf '[bench-cpuprof] %s\n' "$*" >&2; }
die() { printf '[bench-cpuprof] error: %s\n' "$*" >&2; exit 1; }

can_install() { [ "${BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
find_profiler() {
  for f in /usr/lib/x86_64-linux-gnu/libprofiler.so.0 /usr/lib/*/libprofiler.so.0 /usr/lib/libprofiler.so.0; do
    [ -e "$f" ] && { echo "$f"; return; }
  done
}
GPERF=$(find_profiler)
if [ -z "$GPERF" ] && can_install; then
  log "installing libgoogle-perftools4 (gperftools' libprofiler)"
  apt-get install -y -qq libgoogle-perftools4 >/dev/null 2>&1 || true
  GPERF=$(find_profiler)
fi
[ -n "$GPERF" ] || log "gperftools' libprofiler not found: heapscope alone"

if [ -n "${HEAPSCOPE_LIB:-}" ]; then
  LIB=$HEAPSCOPE_LIB
else
  log "building heapscope (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEAPSCOPE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target heapscope >/dev/null
  LIB=$BUILD/lib/libheapscope.so
fi
[ -f "$LIB" ] || die "no $LIB"
mkdir -p "$OUT"
WORK=$OUT/cpuwork
gcc -O2 -g -fno-omit-frame-pointer -o "$WORK" "$ROOT/bench/cpuprof/cpuwork.c"
# The same without frame pointers (Debian's default -O2): unwound by CFI.
gcc -O2 -g -fomit-frame-pointer -o "$WORK-nofp" "$ROOT/bench/cpuprof/cpuwork.c"

exec python3 "$ROOT/bench/cpuprof/cpubench.py" --work "$WORK" --heapscope "$LIB" \
  ${GPERF:+--gperftools "$GPERF"} --runs "${BENCH_RUNS:-5}" \
  --cpu-rounds "${BENCH_CPU_ROUNDS:-170000}" --syscall-rounds "${BENCH_SYSCALL_ROUNDS:-250000}" \
  --work-nofp "$WORK-nofp" --out "$OUT"
