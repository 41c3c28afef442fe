#!/usr/bin/env bash
# Thread creation under leak checking (bench/threads/threads.c): 10,000
# threads created and joined one at a time, each doing nothing, a few
# mallocs, or a few allocations inside libc (strdup, asprintf, fopen).
# Compared in the same run: glibc, heapscope without and with HEAPCHECK,
# LeakSanitizer, and gperftools' heap checker.
#
#   bench/run-threads.sh                    # BENCH_RUNS=5 rounds
#   HEAPSCOPE_LIB=/path/libheapscope.so bench/run-threads.sh   # no build
#
# Environment: BENCH_RUNS (default 5), BENCH_THREADS (default 10000),
# BENCH_WORK (default "none malloc libc"), BENCH_BUILD_DIR, BENCH_OUT,
# BENCH_NO_INSTALL=1 (never apt-get; missing peers are skipped), BENCH_TOOLS
# (a subset of "glibc heapscope heapscope-check lsan gperftools-check";
# glibc and heapscope are always run, the ratios need them).
# Rounds interleave the tools (order rotated each round); medians are
# printed with their ratio to glibc and to heapscope without HEAPCHECK.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-threads}
OUT=${BENCH_OUT:-$BUILD/bench-threads}
RUNS=${BENCH_RUNS:-5}
THREADS=${BENCH_THREADS:-10000}
WORK=${BENCH_WORK:-none malloc libc}
log() { printf '[bench-threads] %s\n' "$*" >&2; }
die() { printf '[bench-threads] error: %s\n' "$*" >&2; exit 1; }
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac

if [[ ${BENCH_NO_INSTALL:-0} != 1 && $(id -u) == 0 ]]; then
  missing=()
  for p in libgoogle-perftools4 liblsan0; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
    >/dev/null 2>&1 || log "could not install ${missing[*]}"
fi

source "$ROOT/bench/lib.sh"
bench_heapscope_lib
mkdir -p "$OUT"
CFLAGS=(-O2 -g -pthread -fno-builtin-malloc -fno-builtin-free)
gcc "${CFLAGS[@]}" "$ROOT/bench/threads/threads.c" -o "$OUT/threads" -ldl
TOOLS=(glibc heapscope heapscope-check)
if gcc "${CFLAGS[@]}" -fsanitize=leak "$ROOT/bench/threads/threads.c" -o "$OUT/threads-lsan" -ldl \
    2>/dev/null; then
  TOOLS+=(lsan)
else
  log "no -fsanitize=leak: LeakSanitizer skipped"
fi
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
if [[ -e $TCMALLOC ]]; then TOOLS+=(gperftools-check); else log "no libtcmalloc.so.4: gperftools skipped"; fi

run_tool() { # TOOL WORK -> RESULT line
  local tool=$1 work=$2
  case $tool in
  glibc) "$OUT/threads" "$work" "$THREADS" ;;
  heapscope) LD_PRELOAD=$LIB "$OUT/threads" "$work" "$THREADS" ;;
  heapscope-check) HEAPCHECK=normal LD_PRELOAD=$LIB "$OUT/threads" "$work" "$THREADS" ;;
  lsan) LSAN_OPTIONS=detect_leaks=1 "$OUT/threads-lsan" "$work" "$THREADS" ;;
  gperftools-check) HEAPCHECK=normal LD_PRELOAD=$TCMALLOC "$OUT/threads" "$work" "$THREADS" 2>/dev/null ;;
  esac
}

if [[ -n ${BENCH_TOOLS:-} ]]; then
  keep=(glibc heapscope)
  for t in "${TOOLS[@]}"; do
    [[ $t == glibc || $t == heapscope ]] && continue
    [[ " $BENCH_TOOLS " == *" $t "* ]] && keep+=("$t")
  done
  TOOLS=("${keep[@]}")
fi

RAW=$OUT/raw.tsv
: >"$RAW"
for ((round = 0; round < RUNS; round++)); do
  n=${#TOOLS[@]}
  for ((k = 0; k < n; k++)); do
    tool=${TOOLS[(k + round) % n]}
    for work in $WORK; do
      line=$(run_tool "$tool" "$work" | grep '^RESULT') || die "$tool $work failed"
      secs=$(sed -n 's/.* secs=\([0-9.]*\) .*/\1/p' <<<"$line")
      printf '%s\t%s\t%s\n' "$tool" "$work" "$secs" >>"$RAW"
    done
  done
  log "round $((round + 1))/$RUNS done"
done

python3 - "$RAW" "$THREADS" "${TOOLS[@]}" <<'PY' | tee "$OUT/report.md"
import statistics, sys
raw, threads, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
data = {}
for line in open(raw):
    t, w, s = line.split("\t")
    data.setdefault((t, w), []).append(float(s))
works = []
for (t, w) in data:
    if w not in works:
        works.append(w)
print(f"### Thread creation: {threads} threads created and joined one at a time "
      f"(median wall seconds of {len(next(iter(data.values())))} runs; ratio to glibc / to heapscope)\n")
print("| tool | " + " | ".join(works) + " |")
print("|---|" + "---|" * len(works))
for t in tools:
    cells = []
    for w in works:
        m = statistics.median(data[(t, w)])
        g = statistics.median(data[("glibc", w)])
        h = statistics.median(data[("heapscope", w)])
        cells.append(f"{m:.2f} s ({m / g:.2f}x / {m / h:.2f}x)")
    print(f"| {t} | " + " | ".join(cells) + " |")
PY
