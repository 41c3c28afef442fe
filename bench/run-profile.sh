#!/usr/bin/env bash
# Heap-profiler overhead benchmark: one allocation-heavy workload
# (bench/profile/profbench.c: 7M allocations through 5..30-deep stacks, 100k
# live objects, 1024 distinct stacks) timed under
#   glibc        plain glibc malloc
#   heapscope    LD_PRELOAD=libheapscope.so, nothing recorded
#   hs-profile   heapscope + HEAPPROFILE (every allocation recorded)
#   hs-sampled   heapscope + HEAPPROFILE + HEAPSCOPE_SAMPLE_BYTES=524288
#   hs-proto     hs-profile with HEAPSCOPE_PROFILE_FORMAT=proto (same
#                recording; the exit dump symbolizes in-process)
#   tcmalloc     gperftools' libtcmalloc.so.4, no profiling (reference)
#   gperftools   libtcmalloc.so.4 + HEAPPROFILE
#   heaptrack    `heaptrack` (if installed or installable)
#   heaptrack-r64  heaptrack on the same workload with 64 distinct stacks
#                (heaptrack 1.4's interpreter dies with std::bad_alloc on
#                this workload from about 256 distinct stacks up)
# See bench/profile/README.md.
#
# Environment:
#   BENCH_RUNS          rounds (default 5); every config runs once per round,
#                       in an order rotated by one each round
#   BENCH_ALLOCS        allocations per run (default 7000000)
#   BENCH_SLOW_ALLOCS   allocations for the slow profilers (gperftools,
#                       heaptrack), default BENCH_ALLOCS/10; compare them by
#                       ns per allocation
#   BENCH_CONFIGS       subset of the configs above
#   BENCH_BUILD_DIR     heapscope build dir (default <repo>/build-bench-profile)
#   HEAPSCOPE_LIB       use this libheapscope.so, build nothing
#   BENCH_OUT           results dir (default $BENCH_BUILD_DIR/bench-profile)
#   BENCH_MEMORY        0 skips the record-memory table (default 1)
#   BENCH_PERF          0 skips the perf profile of hs-profile (default 1)
#   BENCH_NO_INSTALL    1: never apt-get (heaptrack, time)
# Output: Markdown on stdout and in $BENCH_OUT/report.md; raw runs in
# $BENCH_OUT/raw.tsv; perf report in $BENCH_OUT/perf-hs-profile.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench-profile}
OUT=${BENCH_OUT:-$BUILD/bench-profile}
RUNS=${BENCH_RUNS:-5}
ALLOCS=${BENCH_ALLOCS:-7000000}
SLOW_ALLOCS=${BENCH_SLOW_ALLOCS:-$((ALLOCS / 10))}
LIVE=100000
ROUTES=1024
ALL_CONFIGS="glibc heapscope hs-profile hs-sampled hs-proto tcmalloc gperftools heaptrack heaptrack-r64"
CONFIGS=${BENCH_CONFIGS:-$ALL_CONFIGS}

log() { printf '[bench-profile] %s\n' "$*" >&2; }
die() { printf '[bench-profile] error: %s\n' "$*" >&2; exit 1; }
case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac

# ---- tools ---------------------------------------------------------------------
can_install() { [ "${BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
[ -x /usr/bin/time ] || { can_install && apt-get install -y -qq time >/dev/null 2>&1; } ||
  die "/usr/bin/time is needed (apt-get install time)"
TCMALLOC=""
for f in /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4 /usr/lib/*/libtcmalloc.so.4 /usr/lib/libtcmalloc.so.4; do
  [ -e "$f" ] && { TCMALLOC=$f; break; }
done
if ! command -v heaptrack >/dev/null && can_install; then
  log "installing heaptrack"
  apt-get install -y -qq heaptrack >/dev/null 2>&1 || log "heaptrack is not installable; skipped"
fi

# ---- build ----------------------------------------------------------------------
mkdir -p "$OUT"
if [ -n "${HEAPSCOPE_LIB:-}" ]; then
  LIB=$HEAPSCOPE_LIB
else
  log "building heapscope (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEAPSCOPE_BUILD_TESTS=OFF \
    >/dev/null
  cmake --build "$BUILD" --target heapscope >/dev/null
  LIB=$BUILD/lib/libheapscope.so
fi
[ -e "$LIB" ] || die "no $LIB"
PROG=$OUT/profbench
# Frame pointers, as a program built for profiling would have them; no
# builtin malloc folding.
gcc -O2 -g -fno-omit-frame-pointer -fno-builtin-malloc -fno-builtin-free \
  -o "$PROG" "$ROOT/bench/profile/profbench.c" -ldl

# ---- one run ---------------------------------------------------------------------
TMP=$OUT/tmp
# run_one CONFIG ALLOCS LIVE ROUTES -> prints "cpu_ns wall_ns rss_kb internal_kb
# wall_total_s profile_kb" (or "FAIL reason")
run_one() {
  local cfg=$1 n=$2 live=$3 routes=$4 alloc_expect envs=() cmd=("$PROG" "$2" "$3" "$4")
  rm -rf "$TMP"
  mkdir -p "$TMP"
  case $cfg in
  glibc) alloc_expect=libc.so.6 ;;
  heapscope) envs=(LD_PRELOAD="$LIB"); alloc_expect=libheapscope ;;
  hs-profile) envs=(LD_PRELOAD="$LIB" HEAPPROFILE="$TMP/p"); alloc_expect=libheapscope ;;
  hs-sampled) envs=(LD_PRELOAD="$LIB" HEAPPROFILE="$TMP/p" HEAPSCOPE_SAMPLE_BYTES=524288)
    alloc_expect=libheapscope ;;
  hs-proto) envs=(LD_PRELOAD="$LIB" HEAPPROFILE="$TMP/p" HEAPSCOPE_PROFILE_FORMAT=proto)
    alloc_expect=libheapscope ;;
  tcmalloc) envs=(LD_PRELOAD="$TCMALLOC"); alloc_expect=libtcmalloc ;;
  gperftools) envs=(LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$TMP/p"); alloc_expect=libtcmalloc ;;
  heaptrack | heaptrack-r64) cmd=(heaptrack -o "$TMP/ht" "${cmd[@]}"); alloc_expect=libheaptrack ;;
  *) die "unknown config $cfg" ;;
  esac
  local rc=0
  # 4 GiB address-space cap: heaptrack_interpret can run away (see README).
  (ulimit -v 4194304 2>/dev/null || true
   cd "$TMP" && env "${envs[@]}" /usr/bin/time -f 'TIME %e %M' -o "$TMP/time" \
     "${cmd[@]}" >"$TMP/out" 2>"$TMP/err") || rc=$?
  local res
  res=$(grep '^RESULT' "$TMP/out" || true)
  if [ -z "$res" ] || [ $rc -ne 0 ]; then
    local why
    why=$(grep -m1 -oE 'std::bad_alloc|[A-Za-z ]*(error|Error|fault)[^.]*' "$TMP/err" | cut -c1-60 || true)
    echo "FAIL exit=$rc ${why:-no RESULT line}"
    return
  fi
  case $res in *"alloc=$alloc_expect"*) ;; *) die "$cfg: wrong allocator: $res" ;; esac
  local cpu wall ikb
  cpu=$(sed -E 's/.* cpu_ns_per_alloc=([0-9.]+).*/\1/' <<<"$res")
  wall=$(sed -E 's/.* ns_per_alloc=([0-9.]+).*/\1/' <<<"$res")
  ikb=$(sed -E 's/.* internal_kb=(-?[0-9]+).*/\1/' <<<"$res")
  local t_e t_m
  read -r _ t_e t_m < <(grep '^TIME' "$TMP/time")
  local pkb=0 f
  for f in "$TMP"/p.* "$TMP"/ht.*; do
    [ -e "$f" ] && pkb=$((pkb + $(du -k "$f" | cut -f1)))
  done
  echo "$cpu $wall $t_m $ikb $t_e $pkb"
}

allocs_for() { case $1 in gperftools | heaptrack*) echo "$SLOW_ALLOCS" ;; *) echo "$ALLOCS" ;; esac; }
routes_for() { case $1 in *-r64) echo 64 ;; *) echo "$ROUTES" ;; esac; }

available() {
  case $1 in
  tcmalloc | gperftools) [ -n "$TCMALLOC" ] ;;
  heaptrack*) command -v heaptrack >/dev/null ;;
  *) true ;;
  esac
}

# ---- rounds ----------------------------------------------------------------------
RAW=$OUT/raw.tsv
printf 'round\tconfig\tallocs\tcpu_ns\twall_ns\trss_kb\tinternal_kb\twall_s\tprofile_kb\n' >"$RAW"
read -r -a cfgs <<<"$CONFIGS"
active=()
for c in "${cfgs[@]}"; do
  if available "$c"; then active+=("$c"); else log "skipping $c (not installed)"; fi
done
n=${#active[@]}
for ((r = 0; r < RUNS; r++)); do
  for ((i = 0; i < n; i++)); do
    c=${active[$(((i + r) % n))]}
    a=$(allocs_for "$c")
    res=$(run_one "$c" "$a" "$LIVE" "$(routes_for "$c")")
    log "round $((r + 1))/$RUNS $c: $res"
    if [[ $res == FAIL* ]]; then
      printf '%d\t%s\t%s\t%s\n' "$r" "$c" "$a" "$res" >>"$RAW"
    else
      printf '%d\t%s\t%s\t%s\n' "$r" "$c" "$a" "$(tr ' ' '\t' <<<"$res")" >>"$RAW"
    fi
  done
done

# ---- report ----------------------------------------------------------------------
REPORT=$OUT/report.md
median() { sort -g | awk '{v[NR]=$1} END {if (!NR) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
col() { # CONFIG COLUMN -> values of successful runs
  awk -F'\t' -v c="$1" -v k="$2" 'NR>1 && $2==c && $4 !~ /^FAIL/ {print $k}' "$RAW"
}
spread() {
  sort -g | awk '{v[NR]=$1} END {if (NR<2) print "-"; else {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.0f%%", (v[NR]-v[1])*100/m}}'
}
declare -A MED
for c in "${active[@]}"; do MED[$c]=$(col "$c" 4 | median); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="nan"||b=="nan"||b==0) print "-"; else printf "%.2fx", a/b }'; }

{
  echo "## Heap-profiler overhead ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "Workload: \`profbench $ALLOCS $LIVE $ROUTES\` (gperftools and heaptrack: $SLOW_ALLOCS allocations)."
  echo "Median of $RUNS runs. **cpu ns/alloc** = process CPU time of the allocation loop / allocations"
  echo "(the figure the ratios use); wall ns/alloc = the same loop in wall-clock time; process wall"
  echo "includes start-up and the exit-time dump; peak RSS from /usr/bin/time."
  echo
  echo "| config | cpu ns/alloc | vs glibc | vs heapscope | spread | wall ns/alloc | process wall s | peak RSS MiB | internal heap MiB | profile output KiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in "${active[@]}"; do
    fails=$(awk -F'\t' -v c="$c" 'NR>1 && $2==c && $4 ~ /^FAIL/ {print $4}' "$RAW" | sort -u | head -1)
    if [ "${MED[$c]}" = nan ]; then
      echo "| $c | failed (${fails#FAIL }) | | | | | | | | |"
      continue
    fi
    w=$(col "$c" 5 | median)
    rss=$(col "$c" 6 | median | awk '{printf "%.1f", $1/1024}')
    ikb=$(col "$c" 7 | median | awk '{ if ($1 < 0) print "-"; else printf "%.1f", $1/1024 }')
    ws=$(col "$c" 8 | median)
    pk=$(col "$c" 9 | median)
    sp=$(col "$c" 4 | spread)
    vs_h=-
    [ -n "${MED[heapscope]:-}" ] && vs_h=$(ratio "${MED[$c]}" "${MED[heapscope]}")
    vs_g=-
    [ -n "${MED[glibc]:-}" ] && vs_g=$(ratio "${MED[$c]}" "${MED[glibc]}")
    note=""
    [ -n "$fails" ] && note=" (some runs failed: $fails)"
    printf '| %s%s | %.1f | %s | %s | %s | %.1f | %s | %s | %s | %s |\n' "$c" "$note" "${MED[$c]}" \
      "$vs_g" "$vs_h" "$sp" "$w" "$ws" "$rss" "$ikb" "$pk"
  done
  echo
  echo "Targets:"
  if [ -n "${MED[hs-profile]:-}" ] && [ -n "${MED[glibc]:-}" ]; then
    awk -v a="${MED[hs-profile]}" -v b="${MED[glibc]}" 'BEGIN { r=a/b; printf "- full recording (hs-profile) <= 1.5x glibc: %.2fx %s\n", r, (r<=1.5)?"PASS":"FAIL" }'
  fi
  if [ -n "${MED[hs-sampled]:-}" ] && [ -n "${MED[heapscope]:-}" ]; then
    awk -v a="${MED[hs-sampled]}" -v b="${MED[heapscope]}" 'BEGIN { r=a/b; printf "- sampled (hs-sampled) within 5%% of plain heapscope: %+.1f%% %s\n", (r-1)*100, (r<=1.05)?"PASS":"FAIL" }'
  fi
} >"$REPORT"

# ---- record memory ---------------------------------------------------------------
if [ "${BENCH_MEMORY:-1}" != 0 ]; then
  log "record memory: live objects x distinct stacks"
  {
    echo
    echo "### Record memory (hs-profile, 2M allocations, one run each)"
    echo
    echo "internal heap = heapscope's own heap (stack depot buckets + per-object record arrays + ...);"
    echo "RSS delta = peak RSS of hs-profile minus plain heapscope on the same arguments."
    echo
    echo "| live objects | distinct stacks | internal heap KiB | RSS delta KiB | internal bytes per live object |"
    echo "|---:|---:|---:|---:|---:|"
    for lr in "25000 1024" "100000 1024" "400000 1024" "100000 64" "100000 16384"; do
      read -r l rt <<<"$lr"
      p=$(run_one hs-profile 2000000 "$l" "$rt")
      h=$(run_one heapscope 2000000 "$l" "$rt")
      read -r _ _ prss pik _ _ <<<"$p"
      read -r _ _ hrss _ _ _ <<<"$h"
      awk -v l="$l" -v r="$rt" -v ik="$pik" -v d="$((prss - hrss))" \
        'BEGIN { printf "| %d | %d | %d | %d | %.1f |\n", l, r, ik, d, ik*1024/l }'
    done
  } >>"$REPORT"
fi

# ---- perf profile ------------------------------------------------------------------
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null; then
  log "perf profile of hs-profile"
  rm -rf "$TMP" && mkdir -p "$TMP"
  if (cd "$TMP" && env LD_PRELOAD="$LIB" HEAPPROFILE="$TMP/p" perf record -q -g -F 2000 \
    -o "$OUT/perf.data" "$PROG" "$ALLOCS" "$LIVE" "$ROUTES" >/dev/null 2>&1); then
    perf report -i "$OUT/perf.data" --stdio --no-children --percent-limit 0.5 2>/dev/null \
      >"$OUT/perf-hs-profile.txt" || true
    {
      echo
      echo "### Where hs-profile's time goes (perf, self time, top symbols)"
      echo
      echo '```'
      grep -E '^ +[0-9.]+%' "$OUT/perf-hs-profile.txt" | head -20
      echo '```'
    } >>"$REPORT"
  else
    log "perf record failed (perf_event_paranoid?); skipped"
  fi
fi
rm -rf "$TMP"
cat "$REPORT"
