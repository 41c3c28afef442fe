#!/usr/bin/env bash
# heapscope report against go tool pprof -top and google-pprof --text (perl
# pprof) on the same large profiles. See bench/report/README.md.
#
#   bench/report/run.sh                     5 rounds of ours, 3 of the peers
#   BENCH_RUNS=3 BENCH_PEER_RUNS=1 bench/report/run.sh
#   HEAPSCOPE_CLI=build/bin/heapscope bench/report/run.sh   # no build
#   BENCH_PEERS=0 bench/report/run.sh       # ours only (keeps an earlier peers.json)
#
# Inputs (generated once, cached in $BENCH_OUT): a 3,000-function program in
# one compilation unit (-O2 -g), a legacy CPU profile of 200,000 records over
# 50,000 distinct stacks (~20 frames), the same stacks in 1,000,000 records
# (memory must not grow with the samples), and a legacy heap profile with
# 100,000 distinct stacks, all naming real call sites of that program.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-report}
OUT=${BENCH_OUT:-$BUILD/bench-report}
RUNS=${BENCH_RUNS:-5}
PEER_RUNS=${BENCH_PEER_RUNS:-3}
PEER_TIMEOUT=${BENCH_PEER_TIMEOUT:-120}
export BENCH_PEER_TIMEOUT=$PEER_TIMEOUT
mkdir -p "$OUT"

if [ -z "${HEAPSCOPE_CLI:-}" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEAPSCOPE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target heapscope_cli -j2 >/dev/null
  HEAPSCOPE_CLI=$BUILD/bin/heapscope
fi
HS=$HEAPSCOPE_CLI

cd "$OUT"
if [ ! -x big ] || [ ! -s cpu.prof ] || [ ! -s heap.heap ]; then
  echo "generating the program and the profiles (once)..." >&2
  python3 "$ROOT/bench/report/gen_bench.py" program big.c 3000
  gcc -O2 -g -fno-omit-frame-pointer big.c -o big
  python3 "$ROOT/bench/report/gen_bench.py" profiles big . 200000 50000 100000
  python3 "$ROOT/bench/report/gen_bench.py" profiles big mil 1000000 50000 10
fi
"$HS" report --proto -o cpu.pb.gz cpu.prof
echo "inputs: $(du -h cpu.prof | cut -f1) CPU profile, $(du -h mil/cpu.prof | cut -f1) 1M-record CPU profile, $(du -h heap.heap | cut -f1) heap profile, $(du -h cpu.pb.gz | cut -f1) gzipped proto" >&2

export PPROF_TMPDIR=$OUT/pprof-tmp HOME=$OUT
mkdir -p "$PPROF_TMPDIR"
cmds=(
  "hs-top-cpu=$HS report --top cpu.prof"
  "hs-svg-cpu=$HS report --svg -o /dev/null cpu.prof"
  "hs-top-heap=$HS report --top heap.heap"
  "hs-svg-heap=$HS report --svg -o /dev/null heap.heap"
  "hs-top-cpu-1M-records=$HS report --top mil/cpu.prof"
  "hs-top-cpu-proto=$HS report --top cpu.pb.gz"
)
echo "== heapscope report ($RUNS rounds)" >&2
python3 "$ROOT/bench/report/timeit.py" --runs "$RUNS" --timeout 60 --json hs.json "${cmds[@]}" | tee hs.txt

peers=()
if [ "${BENCH_PEERS:-1}" = 0 ]; then
  :
elif command -v go >/dev/null && go tool pprof -h >/dev/null 2>&1; then
  peers+=("go-top-cpu=go tool pprof -top big cpu.prof"
          "go-top-cpu-nosym=go tool pprof -top -symbolize=none cpu.prof"
          "go-top-heap=go tool pprof -top big heap.heap"
          "go-top-heap-nosym=go tool pprof -top -symbolize=none heap.heap")
fi
if [ "${BENCH_PEERS:-1}" != 0 ] && command -v google-pprof >/dev/null; then
  peers+=("perl-text-cpu=google-pprof --text big cpu.prof"
          "perl-text-heap=google-pprof --text big heap.heap")
fi
if [ ${#peers[@]} -gt 0 ]; then
  echo "== peers ($PEER_RUNS rounds, ${PEER_TIMEOUT} s limit)" >&2
  python3 "$ROOT/bench/report/timeit.py" --runs "$PEER_RUNS" --timeout "$PEER_TIMEOUT" \
    --json peers.json "${peers[@]}" | tee peers.txt
fi

python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
hs = json.load(open(os.path.join(out, "hs.json")))
peers = json.load(open(os.path.join(out, "peers.json"))) if os.path.exists(os.path.join(out, "peers.json")) else {}
def cell(d):
    if "wall" not in d:
        return "timed out", "", ""
    return "%.2f s" % d["wall"], "%.2f s" % d["cpu"], "%d MB" % (d["rss_kb"] // 1024)
rows = [("200k-record CPU profile, top", "hs-top-cpu", ["go-top-cpu", "go-top-cpu-nosym", "perl-text-cpu"]),
        ("200k-record CPU profile, flame graph", "hs-svg-cpu", []),
        ("100k-stack heap profile, top", "hs-top-heap", ["go-top-heap", "go-top-heap-nosym", "perl-text-heap"]),
        ("100k-stack heap profile, flame graph", "hs-svg-heap", []),
        ("1M records, same 50k stacks, top", "hs-top-cpu-1M-records", []),
        ("the 200k CPU profile as gzipped proto, top", "hs-top-cpu-proto", [])]
lines = ["| input, output | heapscope wall / CPU / RSS | peers (wall / CPU / RSS, ratio of wall to heapscope's) |",
         "|---|---|---|"]
for title, ours, theirs in rows:
    d = hs[ours]
    w, c, r = cell(d)
    ps = []
    for p in theirs:
        if p not in peers:
            continue
        q = peers[p]
        if "wall" in q:
            ps.append("%s: %.1f s / %.1f s / %d MB (%.0fx)" % (p, q["wall"], q["cpu"], q["rss_kb"] // 1024,
                                                          q["wall"] / d["wall"]))
        else:
            ps.append("%s: > %d s, killed" % (p, int(float(os.environ.get("BENCH_PEER_TIMEOUT", "120")))))
    lines.append("| %s | %s / %s / %s | %s |" % (title, w, c, r, "; ".join(ps) or "-"))
report = "\n".join(lines)
print("\n" + report)
open(os.path.join(out, "report.md"), "w").write(report + "\n")
EOF
