#!/usr/bin/env bash
# Allocator benchmark suite: heapscope against glibc, tcmalloc_minimal,
# jemalloc and mimalloc. See bench/README.md.
#
#   bench/run-alloc.sh                 # everything, BENCH_RUNS=5 rounds
#   BENCH_RUNS=3 bench/run-alloc.sh
#   HEAPSCOPE_LIB=/path/libheapscope.so bench/run-alloc.sh   # no build
#
# Environment:
#   BENCH_RUNS          rounds per (benchmark, allocator), default 5
#   BENCH_BUILD_DIR     heapscope build dir, default <repo>/build-bench
#   HEAPSCOPE_LIB       heapscope .so to preload; when set, heapscope is not built
#   BENCH_OUT           results dir, default $BENCH_BUILD_DIR/bench-alloc
#   BENCH_ALLOCATORS    subset, e.g. "glibc mimalloc heapscope"
#   BENCH_ONLY          subset of benchmarks, e.g. "churn latency"
#   BENCH_CALLGRIND     0 skips the instruction-count table (default 1)
#   BENCH_CALLGRIND_ITERS  iterations for the callgrind runs, default 200000
#   BENCH_NO_INSTALL    1: never run apt-get, skip allocators that are missing
#   BENCH_TIMEOUT       seconds before a run is killed and counted as that long (120)
#   BENCH_REPORT_ONLY   1: no runs, the report from $BENCH_OUT/raw.tsv as it is
#                       (for example the finished rounds of an interrupted run)
#
# Output: Markdown tables on stdout, also written to $BENCH_OUT/report.md;
# raw per-run results in $BENCH_OUT/raw.tsv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
OUT=${BENCH_OUT:-$BUILD/bench-alloc}
RUNS=${BENCH_RUNS:-5}
TIMEOUT=${BENCH_TIMEOUT:-120}
CG_ITERS=${BENCH_CALLGRIND_ITERS:-200000}
DO_CALLGRIND=${BENCH_CALLGRIND:-1}
ALL_BENCHES="churn xthread churn2t realloc frag latency mixed fragphase cachescratch mstress rptest larson"
BENCHES=${BENCH_ONLY:-$ALL_BENCHES}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

case $RUNS in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive integer" ;; esac

# Arguments per benchmark: sized so each run takes ~0.3-1.5 s under glibc.
bench_args() {
  case $1 in
    churn) echo "40000000 1000" ;;       # ops, live window
    xthread) echo "4000000 256 16" ;;    # objects, batch, queue capacity (batches)
    churn2t) echo "10000000 1000 2" ;;   # ops per thread, window, threads
    realloc) echo "150000 64" ;;         # ops, slots
    frag) echo "400000" ;;               # phase-1 objects
    latency) echo "100000000" ;;         # malloc(32)+free pairs
    mixed) echo "300000 2000 1500" ;;    # ops, live objects, idle ms before idle_kb
    fragphase) echo "1024 512" ;;        # MiB of 16-256 B objects, MiB of 1-8 KiB ones
    cachescratch) echo "2 1000 8 200000" ;; # threads, objects per thread, size, writes each
    mstress) echo "2 20 200000 2000" ;;  # threads, rounds, steps per thread, slots
    rptest) echo "2 4000 512" ;;         # threads, loops, blocks per loop
    larson) echo "2 50 200000 1000" ;;   # threads, thread generations, ops each, blocks
    *) die "unknown benchmark $1" ;;
  esac
}

# ---- packages ---------------------------------------------------------------
PKGS="libtcmalloc-minimal4 libjemalloc2 libmimalloc2.0 valgrind time"
pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
ensure_packages() {
  command -v dpkg-query >/dev/null || { log "no dpkg: not installing anything"; return; }
  local missing=() p
  for p in $PKGS; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
    log "missing packages (not installing): ${missing[*]}"
  elif [ "$(id -u)" -eq 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } ||
      log "apt-get install failed; continuing with what is there"
  else
    log "missing packages and not root: ${missing[*]} (those allocators are skipped)"
  fi
}

# Path of the first file of package $1 whose name matches the regex $2.
pkg_file() {
  pkg_installed "$1" || return 0
  dpkg -L "$1" 2>/dev/null | grep -E "$2" | head -n1
}

# ---- build ------------------------------------------------------------------
build_heapscope() {
  if [ -n "${HEAPSCOPE_LIB:-}" ]; then
    HEAPSCOPE_LIB_GIVEN=1
    [ -f "$HEAPSCOPE_LIB" ] || die "HEAPSCOPE_LIB=$HEAPSCOPE_LIB does not exist"
    return
  fi
  log "building heapscope (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 ||
    { cat "$OUT/cmake.log" >&2; die "cmake configure failed"; }
  cmake --build "$BUILD" --target heapscope >>"$OUT/cmake.log" 2>&1 ||
    { tail -n 40 "$OUT/cmake.log" >&2; die "heapscope build failed"; }
  HEAPSCOPE_LIB=$BUILD/lib/libheapscope.so
}

CFLAGS_BENCH="-O2 -g -pthread -Wall -Wextra -fno-builtin-malloc -fno-builtin-free \
-fno-builtin-calloc -fno-builtin-realloc"
build_benches() {
  mkdir -p "$OUT/bin"
  local b
  for b in $ALL_BENCHES; do
    # shellcheck disable=SC2086
    gcc $CFLAGS_BENCH -o "$OUT/bin/$b" "$ROOT/bench/alloc/$b.c" -ldl ||
      die "compiling bench/alloc/$b.c failed"
  done
}

# ---- allocators ---------------------------------------------------------------
ALLOC_NAMES=()
declare -A ALLOC_LIB=()
add_alloc() { # name lib (empty lib = glibc, no preload)
  local want=${BENCH_ALLOCATORS:-}
  if [ -n "$want" ] && [[ " $want " != *" $1 "* ]]; then return; fi
  if [ "$1" != glibc ] && { [ -z "$2" ] || [ ! -f "$2" ]; }; then
    log "skipping $1: library not found"
    return
  fi
  ALLOC_NAMES+=("$1")
  ALLOC_LIB[$1]=$2
}
setup_allocators() {
  add_alloc glibc ""
  add_alloc tcmalloc "$(pkg_file libtcmalloc-minimal4 '/libtcmalloc_minimal\.so\.[0-9]+$')"
  add_alloc jemalloc "$(pkg_file libjemalloc2 '/libjemalloc\.so\.[0-9]+$')"
  add_alloc mimalloc "$(pkg_file libmimalloc2.0 '/libmimalloc\.so\.[0-9]+$')"
  add_alloc heapscope "${HEAPSCOPE_LIB:-}"
  [ ${#ALLOC_NAMES[@]} -gt 0 ] || die "no allocator selected"
}
# The object that must own malloc in the benchmark process.
expected_owner() {
  if [ -z "${ALLOC_LIB[$1]}" ]; then echo "libc.so.6"; else basename "${ALLOC_LIB[$1]}"; fi
}

# key=value field from a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# ---- timed runs -------------------------------------------------------------
# run_one round bench alloc: appends one row to raw.tsv
run_one() {
  local round=$1 b=$2 a=$3 lib=${ALLOC_LIB[$3]} line maxrss
  local tfile="$OUT/time.$$"
  # /usr/bin/time measures the benchmark process itself: env execs it.
  # A run past BENCH_TIMEOUT is killed and counted as taking that long
  # (wall and CPU), marked in the report: one pathological allocator must
  # not hold the whole comparison up.
  # shellcheck disable=SC2046
  if ! line=$(timeout --signal=KILL "$TIMEOUT" /usr/bin/time -f '%M' -o "$tfile" \
        env ${lib:+LD_PRELOAD=$lib} "$OUT/bin/$b" $(bench_args "$b") 2>"$OUT/stderr.$$" |
        grep '^RESULT '); then
    if [ ! -s "$tfile" ]; then # /usr/bin/time was killed with it: the timeout
      log "$b under $a: killed after ${TIMEOUT} s"
      printf '%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t%s\t\t\t\t1\n' "$round" "$b" "$a" "$TIMEOUT" \
        "$TIMEOUT" >>"$OUT/raw.tsv"
      rm -f "$tfile" "$OUT/stderr.$$"
      return
    fi
    cat "$OUT/stderr.$$" >&2
    die "$b under $a failed"
  fi
  maxrss=$(tail -n1 "$tfile")
  local owner
  owner=$(field alloc "$line")
  [ "$owner" = "$(expected_owner "$a")" ] ||
    die "$b under $a: malloc comes from '$owner', expected '$(expected_owner "$a")' (LD_PRELOAD not effective?)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$b" "$a" \
    "$(field secs "$line")" "$maxrss" \
    "$(field peak_kb "$line")" "$(field final_kb "$line")" \
    "$(field after_free_kb "$line")" "$(field end_kb "$line")" \
    "$(field peak_live_kb "$line")" "$(field final_live_kb "$line")" \
    "$(field cpu_secs "$line")" "$(field load_kb "$line")" "$(field idle_kb "$line")" \
    "$(field phase1_kb "$line")" "" >>"$OUT/raw.tsv"
  rm -f "$tfile" "$OUT/stderr.$$"
}

run_timed() {
  printf 'round\tbench\talloc\tsecs\tmaxrss_kb\tpeak_kb\tfinal_kb\tafter_free_kb\tend_kb\tpeak_live_kb\tfinal_live_kb\tcpu_secs\tload_kb\tidle_kb\tphase1_kb\ttimed_out\n' >"$OUT/raw.tsv"
  local n=${#ALLOC_NAMES[@]} round b i
  for ((round = 1; round <= RUNS; round++)); do
    log "round $round/$RUNS"
    for b in $BENCHES; do
      # Rotate the allocator order every round so no allocator always runs
      # right after the same neighbour (page cache, CPU frequency, noise).
      for ((i = 0; i < n; i++)); do
        run_one "$round" "$b" "${ALLOC_NAMES[$(((i + round - 1) % n))]}"
      done
    done
  done
}

# ---- instruction counts (callgrind) -----------------------------------------
# callgrind does not replace malloc (only memcheck-style tools do), so the
# preloaded allocator is the one counted; the RESULT line's alloc= proves it.
cg_ir() { # alloc bench iters -> total Ir
  local a=$1 b=$2 iters=$3 lib=${ALLOC_LIB[$1]} out line
  out=$(env ${lib:+LD_PRELOAD=$lib} valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null "$OUT/bin/$b" "$iters" 2>&1) ||
    { echo "$out" >&2; die "callgrind $b under $a failed"; }
  line=$(grep '^RESULT ' <<<"$out")
  [ "$(field alloc "$line")" = "$(expected_owner "$a")" ] ||
    die "callgrind $b under $a: malloc comes from '$(field alloc "$line")'"
  sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' <<<"$out" | tail -n1
}
run_callgrind() {
  : >"$OUT/callgrind.tsv"
  [ "$DO_CALLGRIND" = 1 ] || return 0
  command -v valgrind >/dev/null || { log "no valgrind: skipping instruction counts"; return 0; }
  log "callgrind: $CG_ITERS iterations of latency and churn per allocator"
  local a b full base
  for a in "${ALLOC_NAMES[@]}"; do
    for b in latency churn; do
      full=$(cg_ir "$a" "$b" "$CG_ITERS")
      base=$(cg_ir "$a" "$b" 0)
      printf '%s\t%s\t%s\t%s\n' "$a" "$b" "$full" "$base" >>"$OUT/callgrind.tsv"
    done
  done
}

# ---- report -------------------------------------------------------------------
report() {
  awk -F'\t' -v allocs="${ALLOC_NAMES[*]}" -v benches="$BENCHES" -v runs="$RUNS" -v timeout="$TIMEOUT" \
      -v cgiters="$CG_ITERS" -v cgfile="$OUT/callgrind.tsv" '
  function median(key,    n, i, j, t, a) {
    n = cnt[key]; if (!n) return ""
    for (i = 1; i <= n; i++) a[i] = val[key, i] + 0
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function spread(key,    n, i, lo, hi, m) {
    n = cnt[key]; if (n < 2) return 0
    lo = hi = val[key, 1] + 0
    for (i = 2; i <= n; i++) { if (val[key, i] + 0 < lo) lo = val[key, i] + 0; if (val[key, i] + 0 > hi) hi = val[key, i] + 0 }
    m = median(key); return m > 0 ? (hi - lo) / m * 100 : 0
  }
  function add(key, v) { if (v == "") return; cnt[key]++; val[key, cnt[key]] = v }
  # One time table plus its spread table; leaves geomeans in g[].
  function time_table(metric, title,    b, i, s, m, r, base, lsum, lcnt) {
    print "### " title ": median of " runs " runs, ms (ratio to glibc; lower is better)"
    print ""
    header("benchmark")
    for (b = 1; b <= nb; b++) {
      base = median(metric SUBSEP B[b] SUBSEP "glibc")
      s = "| " B[b] " |"
      for (i = 1; i <= na; i++) {
        m = median(metric SUBSEP B[b] SUBSEP A[i])
        if (m == "") { s = s " - |"; continue }
        if (base > 0) {
          r = m / base; s = s sprintf(" %.1f (%.2fx) |", m * 1000, r)
          lsum[A[i]] += log(r); lcnt[A[i]]++
        } else s = s sprintf(" %.1f |", m * 1000)
      }
      print s
    }
    s = "| **geomean ratio** |"
    for (i = 1; i <= na; i++) {
      g[A[i]] = lcnt[A[i]] ? exp(lsum[A[i]] / lcnt[A[i]]) : 0
      s = s (lcnt[A[i]] ? sprintf(" **%.3f** |", g[A[i]]) : " - |")
    }
    print s
    print ""
    print "Spread, (max-min)/median:"
    print ""
    header("benchmark")
    for (b = 1; b <= nb; b++) {
      s = "| " B[b] " |"
      for (i = 1; i <= na; i++) s = s sprintf(" %.0f%% |", spread(metric SUBSEP B[b] SUBSEP A[i]))
      print s
    }
    print ""
  }
  function header(first,    i, s) {
    s = "| " first " |"; for (i = 1; i <= na; i++) s = s " " A[i] " |"; print s
    s = "|---|"; for (i = 1; i <= na; i++) s = s "---:|"; print s
  }
  # The RSS of one benchmark at its named moments (keys: the raw fields, space
  # separated; labels: their row titles, "|" separated), MiB, median.
  function rss_table(bench, keys, labels,    K, L, nk, k, i, s, m) {
    print ""
    print "### " bench ": RSS from /proc/self/status, MiB (median)"
    print ""
    header("moment")
    nk = split(keys, K, " ")
    split(labels, L, "|")
    for (k = 1; k <= nk; k++) {
      s = "| " L[k] " |"
      for (i = 1; i <= na; i++) {
        m = median(K[k] SUBSEP bench SUBSEP A[i])
        s = s (m == "" ? " - |" : sprintf(" %.1f |", m / 1024))
      }
      print s
    }
  }
  NR > 1 {
    add("secs" SUBSEP $2 SUBSEP $3, $4); add("rss" SUBSEP $2 SUBSEP $3, $5)
    add("cpu" SUBSEP $2 SUBSEP $3, $12)
    add("peak" SUBSEP $2 SUBSEP $3, $6); add("final" SUBSEP $2 SUBSEP $3, $7)
    add("afree" SUBSEP $2 SUBSEP $3, $8); add("end" SUBSEP $2 SUBSEP $3, $9)
    add("load" SUBSEP $2 SUBSEP $3, $13); add("idle" SUBSEP $2 SUBSEP $3, $14)
    add("phase1" SUBSEP $2 SUBSEP $3, $15)
    if ($16 == 1) killed[$2, $3] = 1
    if ($2 == "frag" && $10 != "") { live_peak = $10; live_final = $11 }
  }
  # One cell per allocator and workload: wall ratio to glibc, wall ms, peak RSS.
  function summary(    b, i, s, m, base, rss, r, lw, lc, nw, mc, basec) {
    print "### Time and peak RSS per workload: median of " runs " runs"
    print ""
    print "Each cell: wall-time ratio to glibc / CPU-time ratio to glibc; peak RSS in MiB (/usr/bin/time %M). Lower is better. >: a run was killed after " timeout " s (counted as " timeout " s)."
    print ""
    header("workload")
    for (b = 1; b <= nb; b++) {
      base = median("secs" SUBSEP B[b] SUBSEP "glibc"); basec = median("cpu" SUBSEP B[b] SUBSEP "glibc")
      s = "| " B[b] " |"
      for (i = 1; i <= na; i++) {
        m = median("secs" SUBSEP B[b] SUBSEP A[i]); rss = median("rss" SUBSEP B[b] SUBSEP A[i])
        mc = median("cpu" SUBSEP B[b] SUBSEP A[i])
        if (m == "") { s = s " - |"; continue }
        if (base > 0) {
          r = m / base
          s = s sprintf(" %s%.2fx / %s%.2fx; %s |", killed[B[b], A[i]] ? ">" : "", r,
                        killed[B[b], A[i]] ? ">" : "", basec > 0 ? mc / basec : 0,
                        rss == "" ? "-" : sprintf("%.0f", rss / 1024))
          lw[A[i]] += log(r); nw[A[i]]++
          if (basec > 0 && mc > 0) lc[A[i]] += log(mc / basec)
          ratio_w[B[b], A[i]] = r; ratio_c[B[b], A[i]] = basec > 0 ? mc / basec : 0
        } else s = s sprintf(" (%.0f ms); %.0f |", m * 1000, rss / 1024)
      }
      print s
    }
    s = "| **geomean, wall** |"
    for (i = 1; i <= na; i++) { sw[A[i]] = nw[A[i]] ? exp(lw[A[i]] / nw[A[i]]) : 0; s = s (nw[A[i]] ? sprintf(" **%.3f** |", sw[A[i]]) : " - |") }
    print s
    s = "| **geomean, CPU** |"
    for (i = 1; i <= na; i++) { sc[A[i]] = nw[A[i]] ? exp(lc[A[i]] / nw[A[i]]) : 0; s = s (nw[A[i]] ? sprintf(" **%.3f** |", sc[A[i]]) : " - |") }
    print s
    print ""
  }
  END {
    na = split(allocs, A, " "); nb = split(benches, B, " ")
    summary()
    time_table("secs", "Wall time of the timed region")
    for (i = 1; i <= na; i++) gw[A[i]] = g[A[i]]
    time_table("cpu", "CPU time of the timed region (all threads, user+sys)")
    for (i = 1; i <= na; i++) gc[A[i]] = g[A[i]]
    print "### Peak RSS: median /usr/bin/time %M, MiB (lower is better)"
    print ""
    header("benchmark")
    for (b = 1; b <= nb; b++) {
      s = "| " B[b] " |"
      for (i = 1; i <= na; i++) {
        m = median("rss" SUBSEP B[b] SUBSEP A[i])
        s = s (m == "" ? " - |" : sprintf(" %.1f |", m / 1024))
      }
      print s
    }
    if (cnt["peak" SUBSEP "frag" SUBSEP A[1]]) {
      rss_table("frag", "peak final afree end",
                "peak (VmHWM)|final (VmRSS, end of phase 3)|after freeing 80% (phase 2)|after freeing everything")
      print ""
      printf("Bytes requested and live: %.1f MiB at the peak (phase 1), %.1f MiB at the end of phase 3.\n", live_peak / 1024, live_final / 1024)
    }
    if (cnt["idle" SUBSEP "mixed" SUBSEP A[1]])
      rss_table("mixed", "peak load end idle",
                "peak (VmHWM)|end of the load (VmRSS)|right after freeing everything|after 1.5 s idle and a short trickle")
    if (cnt["phase1" SUBSEP "fragphase" SUBSEP A[1]])
      rss_table("fragphase", "phase1 afree peak end",
                "after phase 1 (1 GiB of 16-256 B)|after freeing 90%|peak (VmHWM, end of phase 3)|after freeing everything")
    ncg = 0
    while ((getline line < cgfile) > 0) {
      split(line, f, "\t"); ncg++
      ir[f[1], f[2]] = (f[3] - f[4]) / cgiters
    }
    if (ncg) {
      print ""
      print "### Instructions (callgrind Ir, noise-free), " cgiters " iterations minus a 0-iteration baseline"
      print ""
      header("per operation")
      s = "| latency: malloc(32)+free pair |"
      for (i = 1; i <= na; i++) s = s sprintf(" %.1f |", ir[A[i], "latency"])
      print s
      s = "| churn: free+malloc 16..256 B |"
      for (i = 1; i <= na; i++) s = s sprintf(" %.1f |", ir[A[i], "churn"])
      print s
      print ""
      print "Both include the benchmark loop itself (about 8 Ir for latency, about 25 for churn: RNG, slot update, two stores)."
    }
    if (sw["heapscope"]) {
      print ""
      print "### Targets (issue 17), from the first table"
      print ""
      over = ""
      for (b = 1; b <= nb; b++) if (ratio_w[B[b], "heapscope"] > 1.0) over = over sprintf(" %s %.2fx (CPU %.2fx)", B[b], ratio_w[B[b], "heapscope"], ratio_c[B[b], "heapscope"])
      printf("- no workload above 1.0x glibc (wall): **%s**%s\n", over == "" ? "met" : "NOT met:", over)
      over = ""
      for (b = 1; b <= nb; b++) if (ratio_c[B[b], "heapscope"] > 1.0) over = over sprintf(" %s %.2fx", B[b], ratio_c[B[b], "heapscope"])
      printf("- no workload above 1.0x glibc (CPU): **%s**%s\n", over == "" ? "met" : "NOT met:", over)
      best = ""; bv = 0
      if (sw["tcmalloc"]) { best = "tcmalloc"; bv = sw["tcmalloc"] }
      if (sw["mimalloc"] && (!bv || sw["mimalloc"] < bv)) { best = "mimalloc"; bv = sw["mimalloc"] }
      if (bv) printf("- geomean at or below the best of tcmalloc and mimalloc: wall %.3f vs %s %.3f: **%s**\n", sw["heapscope"], best, bv, sw["heapscope"] <= bv ? "met" : "NOT met")
      bc = sc["tcmalloc"] && (!sc["mimalloc"] || sc["tcmalloc"] < sc["mimalloc"]) ? sc["tcmalloc"] : sc["mimalloc"]
      if (bc) printf("- the same on CPU time: %.3f vs %.3f (tcmalloc), %.3f (mimalloc): **%s**\n", sc["heapscope"], sc["tcmalloc"], sc["mimalloc"], sc["heapscope"] <= bc ? "met" : "NOT met")
      lh = median("secs" SUBSEP "latency" SUBSEP "heapscope"); lt = median("secs" SUBSEP "latency" SUBSEP "tcmalloc")
      if (lh != "" && lt != "") printf("- malloc(32)+free latency at or below tcmalloc: %.2f vs %.2f ns per pair (wall): **%s**; CPU %.3f vs %.3f s\n", lh * 10, lt * 10, lh <= lt ? "met" : "NOT met", median("cpu" SUBSEP "latency" SUBSEP "heapscope"), median("cpu" SUBSEP "latency" SUBSEP "tcmalloc"))
      hp = median("peak" SUBSEP "fragphase" SUBSEP "heapscope"); gp = median("peak" SUBSEP "fragphase" SUBSEP "glibc")
      if (hp != "" && gp != "") printf("- fragphase peak RSS at or below glibc: %.0f vs %.0f MiB: **%s**\n", hp / 1024, gp / 1024, hp <= gp ? "met" : "NOT met")
      hp = median("peak" SUBSEP "frag" SUBSEP "heapscope"); gp = median("peak" SUBSEP "frag" SUBSEP "glibc")
      if (hp != "" && gp != "") printf("- frag peak RSS at or below glibc: %.0f vs %.0f MiB: **%s**\n", hp / 1024, gp / 1024, hp <= gp ? "met" : "NOT met")
      hi = median("idle" SUBSEP "mixed" SUBSEP "heapscope")
      if (hi != "") printf("- mixed: RSS after the load ends (freed, idle): %.1f MiB\n", hi / 1024)
    }
  }' "$OUT/raw.tsv"
}

main() {
  mkdir -p "$OUT"
  local t0=$SECONDS
  ensure_packages
  command -v /usr/bin/time >/dev/null || die "/usr/bin/time missing (apt-get install time)"
  if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
    # Nothing to build: the report names the library the runs used.
    HEAPSCOPE_LIB=${HEAPSCOPE_LIB:-$BUILD/lib/libheapscope.so}
  else
    build_heapscope
    build_benches
  fi
  setup_allocators
  log "allocators: ${ALLOC_NAMES[*]}"
  log "benchmarks: $BENCHES; $RUNS runs each"
  if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
    [ -f "$OUT/raw.tsv" ] || die "BENCH_REPORT_ONLY: no $OUT/raw.tsv"
    log "report only, from the runs already in $OUT/raw.tsv"
    [ -f "$OUT/callgrind.tsv" ] || : >"$OUT/callgrind.tsv"
  else
    run_timed
    run_callgrind
  fi
  {
    echo "## heapscope allocator benchmarks"
    echo ""
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)."
    if [ -z "${HEAPSCOPE_LIB_GIVEN:-}" ] && git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
      local dirty=""
      git -C "$ROOT" diff --quiet HEAD -- core leakcheck adapters include CMakeLists.txt 2>/dev/null ||
        dirty=" (with uncommitted changes in the library's sources)"
      echo "heapscope built from $(git -C "$ROOT" rev-parse --short HEAD)$dirty."
    fi
    local a
    for a in "${ALLOC_NAMES[@]}"; do echo "- $a: ${ALLOC_LIB[$a]:-(glibc $(ldd --version | head -n1 | awk '{print $NF}'), no preload)}"; done
    echo ""
    report
  } | tee "$OUT/report.md"
  log "done in $((SECONDS - t0)) s; raw results in $OUT"
}

main "$@"
