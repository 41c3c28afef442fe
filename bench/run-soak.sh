#!/usr/bin/env bash
# Soak: everything at once for a few minutes (bench/soak/soak.c): mixed
# sizes, cross-thread frees, thread churn, forks, heap profiles and dumps,
# and a whole-program leak check every 200 ms, under HEAPCHECK=normal with
# HEAPPROFILE and HEAPSCOPE_CHECK_CHILDREN=1. It passes when nothing was
# corrupted, no child failed, no check reported a leak or failed to give a
# verdict, and the exit check is clean. For scale, the same load without
# profiles and checks (-DSOAK_PLAIN) runs under glibc, heapscope with and
# without HEAPCHECK, LeakSanitizer and gperftools' heap checker.
#
#   bench/run-soak.sh                 # 180 s soak, then 30 s per peer
#   BENCH_SOAK_SECS=600 bench/run-soak.sh
#
# Environment: BENCH_SOAK_SECS (180), BENCH_PEER_SECS (30), BENCH_WORKERS
# (4), BENCH_NO_PEERS=1, HEAPSCOPE_LIB (skip the build), BENCH_BUILD_DIR,
# BENCH_OUT. The short version runs in CTest as reliability.soak.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-soak}
OUT=${BENCH_OUT:-$BUILD/bench-soak}
SOAK_SECS=${BENCH_SOAK_SECS:-180}
PEER_SECS=${BENCH_PEER_SECS:-30}
WORKERS=${BENCH_WORKERS:-4}
log() { printf '[bench-soak] %s\n' "$*" >&2; }
die() { printf '[bench-soak] error: %s\n' "$*" >&2; exit 1; }

source "$ROOT/bench/lib.sh"
bench_heapscope_lib
mkdir -p "$OUT"
rm -rf "$OUT/work"
mkdir -p "$OUT/work"
SRC=$ROOT/bench/soak/soak.c
CF=(-O2 -g -pthread -fno-omit-frame-pointer -fno-builtin-malloc -fno-builtin-free)
gcc "${CF[@]}" -I"$ROOT/include" "$SRC" -o "$OUT/soak" -L"$LIBDIR" -lheapscope \
  -Wl,-rpath,"$LIBDIR"
gcc "${CF[@]}" -DSOAK_PLAIN "$SRC" -o "$OUT/soak-plain"

log "soak: ${SOAK_SECS} s, $WORKERS workers"
rc=0
(cd "$OUT/work" && HEAPCHECK=normal HEAPPROFILE=$OUT/work/p HEAPSCOPE_CHECK_CHILDREN=1 \
  /usr/bin/time -f 'time_rss_kib=%M' "$OUT/soak" "$SOAK_SECS" "$WORKERS" \
  >"$OUT/soak.out" 2>"$OUT/soak.err") || rc=$?
dumps=$(ls "$OUT/work" | wc -l)
rm -rf "$OUT/work"
soak_line=$(grep '^SOAK ' "$OUT/soak.out" || true)
stderr_lines=$(grep -vc '^time_rss_kib=' "$OUT/soak.err" || true)

peers=()
if [[ ${BENCH_NO_PEERS:-0} != 1 ]]; then
  peers=(glibc heapscope heapscope-check)
  gcc "${CF[@]}" -DSOAK_PLAIN -fsanitize=leak "$SRC" -o "$OUT/soak-lsan" 2>/dev/null && peers+=(lsan)
  TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
  [[ -e $TCMALLOC ]] && peers+=(gperftools-check)
  : >"$OUT/peers.tsv"
  for p in "${peers[@]}"; do
    log "same load without profiles and checks: $p, ${PEER_SECS} s"
    # A peer may fail the load (LeakSanitizer's check in a forked child
    # reports the parent's blocks as leaks and exits 23; gperftools' heap
    # checker can deadlock in a forked child): its row says so.
    err=$OUT/peer-$p.err
    t=(timeout -k 5 $((PEER_SECS * 3 + 30)))
    case $p in
    glibc) line=$("${t[@]}" "$OUT/soak-plain" "$PEER_SECS" "$WORKERS" 2>"$err" || true) ;;
    heapscope) line=$("${t[@]}" env LD_PRELOAD="$LIB" "$OUT/soak-plain" "$PEER_SECS" "$WORKERS" \
      2>"$err" || true) ;;
    heapscope-check) line=$("${t[@]}" env HEAPCHECK=normal HEAPSCOPE_CHECK_CHILDREN=1 \
      LD_PRELOAD="$LIB" "$OUT/soak-plain" "$PEER_SECS" "$WORKERS" 2>"$err" || true) ;;
    lsan) line=$("${t[@]}" "$OUT/soak-lsan" "$PEER_SECS" "$WORKERS" 2>"$err" || true) ;;
    gperftools-check) line=$("${t[@]}" env HEAPCHECK=normal LD_PRELOAD="$TCMALLOC" \
      "$OUT/soak-plain" "$PEER_SECS" "$WORKERS" 2>"$err" || true) ;;
    esac
    printf '%s\t%s\n' "$p" "$(grep '^SOAK ' <<<"$line" || true)" >>"$OUT/peers.tsv"
  done
fi

python3 - "$rc" "$dumps" "$stderr_lines" "$soak_line" "$OUT/peers.tsv" <<'PY' | tee "$OUT/report.md"
import os, sys
rc, dumps, errs, soak, peers = sys.argv[1:6]
kv = dict(x.split("=", 1) for x in soak.split()[1:]) if soak else {}
print("### Soak (HEAPCHECK=normal, HEAPPROFILE, HEAPSCOPE_CHECK_CHILDREN=1)\n")
print(f"exit status {rc}, result {kv.get('result', 'none')}, {errs} unexpected stderr line(s), "
      f"{dumps} profile file(s) written\n")
print("| figure | value |\n|---|---|")
for k, v in kv.items():
    print(f"| {k} | {v} |")
if os.path.exists(peers) and os.path.getsize(peers):
    rows = []
    for line in open(peers):
        tool, rest = line.rstrip("\n").split("\t", 1)
        d = dict(x.split("=", 1) for x in rest.split()[1:]) if rest else {}
        rows.append((tool, d))
    base = next((float(d["ops_per_sec"]) for t, d in rows if t == "glibc" and d), None)
    print("\n### The same load without profiles and checks (ops/s, ratio to glibc)\n")
    print("| tool | ops/s | vs glibc | threads created | forks | result |\n|---|---|---|---|---|---|")
    for t, d in rows:
        if not d:
            print(f"| {t} | no result (see peer-{t}.err) | | | | |")
            continue
        ops = float(d["ops_per_sec"])
        ratio = f"{ops / base:.2f}x" if base else ""
        print(f"| {t} | {ops:.0f} | {ratio} | {d['threads_created']} | {d['forks']} | "
              f"{d['result']} |")
    print("\nops/s of this mixed load is for scale only: the workers, the thread churn and "
          "the forks compete for the processors differently under each tool.")
PY
[[ $rc == 0 && -n $soak_line && $stderr_lines == 0 ]] || die "the soak failed (see $OUT/soak.err)"
