#!/usr/bin/env bash
# Start-up cost of the CMocka adapter's search for a static or misbound
# CMocka, which runs when per-test checking is asked for (HEAPCHECK set):
#   1. the primitives, timed inside a process (bind_cost.c);
#   2. the first call in a fresh process (what a process pays), median of
#      many processes;
#   3. whole processes: a small program without CMocka, and a stripped one,
#      under HEAPCHECK=normal with the search (default) and without it
#      (HEAPSCOPE_CMOCKA=off), in alternation; median of the paired
#      differences (on a shared machine this resolves only large effects).
# Usage: bench/cmocka/startup.sh [PAIRS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pairs=${1:-300}
build=${HEAPSCOPE_BUILD:-$root/build-bench}
[ -f "$build/lib/libheapscope_internal.a" ] || {
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$build" --target heapscope heapscope_internal >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -I"$root" -I"$root/include" "$here/bind_cost.c" -o "$work/bind_cost" \
  -Wl,--whole-archive "$build/lib/libheapscope_internal.a" -Wl,--no-whole-archive \
  $(pkg-config --libs libunwind libdw libelf) -lpthread -ldl -lm
echo "== primitives on this benchmark's own executable ($(stat -c %s "$work/bind_cost") bytes," \
  "$(nm "$work/bind_cost" | wc -l) symbols) =="
"$work/bind_cost"
echo "== first call in a fresh process, median of 101 processes =="
for k in 0 1; do
  for i in $(seq 101); do "$work/bind_cost" once $k; done | sort -g |
    awk -v k=$k 'BEGIN{split("probes search",n," ")} {a[NR]=$1} END {printf "%-8s %7.1f us\n", n[k+1], a[51]}'
done

printf '#include <stdlib.h>\nint main(void){free(malloc(10));return 0;}\n' > "$work/small.c"
gcc -O1 -g "$work/small.c" -o "$work/small"
strip -o "$work/small_stripped" "$work/small"
echo "== whole processes, HEAPCHECK=normal, $pairs pairs (search on - off, median) =="
python3 - "$build/lib/libheapscope.so" "$pairs" "$work/small" "$work/small_stripped" <<'PY'
import os, statistics, subprocess, sys, time
lib, pairs, progs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
base = dict(os.environ, HEAPCHECK="normal", LD_PRELOAD=lib)
off = dict(base, HEAPSCOPE_CMOCKA="off")
def once(env, prog):
    t = time.perf_counter()
    subprocess.run([prog], env=env, check=True)
    return (time.perf_counter() - t) * 1e6
for prog in progs:
    for _ in range(20):
        once(base, prog); once(off, prog)
    on_t, off_t, diff = [], [], []
    for _ in range(pairs):
        a = once(base, prog); b = once(off, prog)
        on_t.append(a); off_t.append(b); diff.append(a - b)
    print(f"{os.path.basename(prog):15s} on {statistics.median(on_t):7.0f} us  "
          f"off {statistics.median(off_t):7.0f} us  paired difference {statistics.median(diff):6.1f} us")
PY
