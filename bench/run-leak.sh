#!/usr/bin/env bash
# Leak-check benchmark: heapscope against plain glibc, LeakSanitizer, the
# gperftools heap checker and Valgrind memcheck. See bench/leak/README.md.
#
#   bench/run-leak.sh                        # everything, BENCH_RUNS=5
#   BENCH_RUNS=3 bench/run-leak.sh
#   HEAPSCOPE_LIB=/path/libheapscope.so bench/run-leak.sh   # no build
#
# Environment:
#   BENCH_RUNS         runs per fast tool (glibc, heapscope, LSan), default 5
#   BENCH_SLOW_RUNS    runs for gperftools, Valgrind, snapdiff, symtime; default 3
#   BENCH_TESTS        workload "tests" of BENCH_OPS allocations, default 7000
#   BENCH_OPS          allocations per test, default 1000 (7 M in total)
#   BENCH_THREADS      space-separated thread counts, default "1" (e.g. "1 2")
#   BENCH_GPERF_SCALE  the gperftools heap checker runs 1/N of the workload
#                      (it takes ~100 s for the full one here), default 10
#   BENCH_LIVE_MIB     live heap for the snapshot-diff benchmark, default 1024
#   BENCH_ONLY         subset of "workload workload-o2 million snapdiff symtime"
#   BENCH_LSAN_CC      compiler for the LeakSanitizer build, default: gcc, else clang
#   BENCH_BUILD_DIR    heapscope build dir, default <repo>/build-bench-leak
#   HEAPSCOPE_LIB      libheapscope.so to use; when set, nothing is built
#   BENCH_OUT          results dir, default $BENCH_BUILD_DIR/bench-leak
#   BENCH_NO_INSTALL   1: never apt-get; tools that are missing are skipped
#
# Output: Markdown tables on stdout, also in $BENCH_OUT/report.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-leak}
OUT=${BENCH_OUT:-$BUILD/bench-leak}
RUNS=${BENCH_RUNS:-5}
SLOW_RUNS=${BENCH_SLOW_RUNS:-3}
SRC=$ROOT/bench/leak

log() { printf '[bench-leak] %s\n' "$*" >&2; }
die() { printf '[bench-leak] error: %s\n' "$*" >&2; exit 1; }

case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac
case $SLOW_RUNS in '' | *[!0-9]* | 0) die "BENCH_SLOW_RUNS must be a positive integer" ;; esac
command -v python3 >/dev/null || die "python3 is required"
command -v gcc >/dev/null || die "gcc is required"

# ---- optional tools ------------------------------------------------------------
install_pkgs() {
  [[ ${BENCH_NO_INSTALL:-0} == 1 || $(id -u) != 0 ]] && return 0
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    log "could not install ${missing[*]}; continuing without"
}
install_pkgs time valgrind libgoogle-perftools4 google-perftools liblsan0 clang

TIME_BIN=/usr/bin/time
[[ -x $TIME_BIN ]] || { log "no /usr/bin/time: peak RSS not measured"; TIME_BIN=; }
VALGRIND=$(command -v valgrind || true)
TCMALLOC=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
  [[ -e $d/libtcmalloc.so.4 ]] && { TCMALLOC=$d/libtcmalloc.so.4; break; }
done
PPROF=$(command -v google-pprof || command -v pprof || true)
[[ -n $TCMALLOC ]] || log "libtcmalloc.so.4 (gperftools) not found: its heap checker is skipped"
[[ -n $VALGRIND ]] || log "valgrind not found: skipped"

# ---- heapscope -------------------------------------------------------------------
source "$ROOT/bench/lib.sh"
bench_heapscope_lib

# ---- benchmark programs ------------------------------------------------------------
BIN=$OUT/bin
mkdir -p "$BIN"
CFLAGS=(-O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-builtin-malloc
  -fno-builtin-free -fno-builtin-calloc -pthread)
log "compiling the benchmark programs"
gcc "${CFLAGS[@]}" "$SRC/workload.c" -o "$BIN/workload"
gcc "${CFLAGS[@]}" "$SRC/million.c" -o "$BIN/million"
for p in snapdiff symtime; do
  gcc "${CFLAGS[@]}" -I"$ROOT/include" "$SRC/$p.c" -o "$BIN/$p" -L"$LIBDIR" -lheapscope \
    -Wl,-rpath,"$LIBDIR"
done

# LeakSanitizer build of the same sources.
LSAN_CC=
for cc in ${BENCH_LSAN_CC:-gcc clang}; do
  command -v "$cc" >/dev/null || continue
  if echo 'int main(void){return 0;}' | "$cc" -x c - -fsanitize=leak -o "$BIN/lsan-probe" 2>/dev/null &&
    "$BIN/lsan-probe" 2>/dev/null; then
    LSAN_CC=$cc
    break
  fi
done
WL_LSAN= ; MIL_LSAN=
if [[ -n $LSAN_CC ]]; then
  "$LSAN_CC" "${CFLAGS[@]}" -fsanitize=leak "$SRC/workload.c" -o "$BIN/workload-lsan"
  "$LSAN_CC" "${CFLAGS[@]}" -fsanitize=leak "$SRC/million.c" -o "$BIN/million-lsan"
  WL_LSAN=$BIN/workload-lsan; MIL_LSAN=$BIN/million-lsan
else
  log "no compiler can build -fsanitize=leak programs (install liblsan0 or clang): LSan skipped"
fi

# The workload as Release/RelWithDebInfo builds test suites: -O2 without
# frame pointers (sibling calls stay off, as in the build above), plus its
# LeakSanitizer build with clang (its runtime, also for fast_unwind_on_malloc=0).
O2FLAGS=(-O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -fno-builtin-malloc
  -fno-builtin-free -fno-builtin-calloc -pthread)
gcc "${O2FLAGS[@]}" "$SRC/workload.c" -o "$BIN/workload-o2"
WL_O2_LSAN=
if command -v clang >/dev/null && echo 'int main(void){return 0;}' |
  clang -x c - -fsanitize=leak -o "$BIN/clang-lsan-probe" 2>/dev/null && "$BIN/clang-lsan-probe"; then
  clang "${O2FLAGS[@]}" -fsanitize=leak "$SRC/workload.c" -o "$BIN/workload-o2-lsan"
  WL_O2_LSAN=$BIN/workload-o2-lsan
else
  log "clang cannot build -fsanitize=leak programs: the -O2 LeakSanitizer rows are skipped"
fi

log "running (BENCH_RUNS=$RUNS, BENCH_SLOW_RUNS=$SLOW_RUNS); results in $OUT/report.md"
exec python3 "$SRC/leakbench.py" \
  --workload "$BIN/workload" --workload-lsan "$WL_LSAN" \
  --workload-o2 "$BIN/workload-o2" --workload-o2-lsan "$WL_O2_LSAN" --o2-flags "${O2FLAGS[*]}" \
  --million "$BIN/million" --million-lsan "$MIL_LSAN" \
  --snapdiff "$BIN/snapdiff" --symtime "$BIN/symtime" \
  --heapscope "$LIB" --tcmalloc "$TCMALLOC" --valgrind "$VALGRIND" --pprof "$PPROF" \
  --time-bin "$TIME_BIN" --lsan-cc "$LSAN_CC" --out "$OUT" \
  --runs "$RUNS" --slow-runs "$SLOW_RUNS" --tests "${BENCH_TESTS:-7000}" --ops "${BENCH_OPS:-1000}" \
  --threads "${BENCH_THREADS:-1}" --gperf-scale "${BENCH_GPERF_SCALE:-10}" \
  --live-mib "${BENCH_LIVE_MIB:-1024}" --only "${BENCH_ONLY:-workload workload-o2 million snapdiff symtime}"
