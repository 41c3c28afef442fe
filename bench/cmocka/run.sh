#!/usr/bin/env bash
# Per-test overhead of the CMocka adapter: a suite of N small clean tests,
# timed plain (glibc), under heapscope without checking, and with every test
# leak-checked (HEAPCHECK=normal). Usage: bench/cmocka/run.sh [N] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000}
runs=${2:-${BENCH_RUNS:-7}}
build=${HEAPSCOPE_BUILD:-$root/build-bench}
lib=$build/lib/libheapscope.so
[ -f "$lib" ] || { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen_suite.py" "$n" > "$work/suite.c"
gcc -O1 -g -fno-omit-frame-pointer "$work/suite.c" -lcmocka -o "$work/suite"

time_one() { # prints seconds
  local start end
  start=$(date +%s.%N)
  env "$@" "$work/suite" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A t
cfgs="glibc heapscope heapcheck-only checked"
for cfg in $cfgs; do : > "$work/$cfg"; done
for ((r = 0; r < runs; r++)); do
  time_one >>"$work/glibc"
  time_one LD_PRELOAD="$lib" >>"$work/heapscope"
  # recording and the exit-time check, but no per-test checks: what the
  # adapter itself adds is checked minus this
  time_one LD_PRELOAD="$lib" HEAPCHECK=normal HEAPSCOPE_CMOCKA=off >>"$work/heapcheck-only"
  time_one LD_PRELOAD="$lib" HEAPCHECK=normal >>"$work/checked"
done
for cfg in $cfgs; do t[$cfg]=$(median <"$work/$cfg"); done
# Sanity: the checked run really checked (a leaking test would fail).
LD_PRELOAD="$lib" HEAPCHECK=normal "$work/suite" >/dev/null 2>&1 && ok=passed || ok=FAILED
echo "| suite of $n clean CMocka tests ($runs runs, median) | seconds | per test | vs glibc | vs heapscope unchecked | vs HEAPCHECK without the adapter |"
echo "|---|---|---|---|---|---|"
for cfg in $cfgs; do
  per=$(echo "${t[$cfg]} / $n * 1000000" | bc -l)
  printf '| %s | %.4f | %.1f us | %.3fx | %.3fx | %.3fx |\n' "$cfg" "${t[$cfg]}" "$per" \
    "$(echo "${t[$cfg]} / ${t[glibc]}" | bc -l)" "$(echo "${t[$cfg]} / ${t[heapscope]}" | bc -l)" \
    "$(echo "${t[$cfg]} / ${t[heapcheck-only]}" | bc -l)"
done
echo "checked run verdict: $ok"
