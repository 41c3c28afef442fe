#!/usr/bin/env bash
# Heap-profiler test driver: runs one case (tests/profile/CMakeLists.txt
# registers each as profile.<case>), checks the dumps with profcheck (exact
# numbers, strict format) and with Go pprof / gperftools' perl pprof.
#
# Environment (set by CTest): HS_PRELOAD (libheapscope.so), HS_BIN (test
# programs), HS_PROFDL (dlopen test library), HS_PROFCHECK, HS_WORK.
# Exit status: 0 pass, 1 fail, 77 skipped (a needed tool is missing).
set -euo pipefail

case_=${1:?usage: run.sh CASE}
: "${HS_PRELOAD:?}" "${HS_BIN:?}" "${HS_PROFCHECK:?}" "${HS_WORK:?}"
W=$HS_WORK/$case_
rm -rf "$W"
mkdir -p "$W"
cd "$W"
export PPROF_TMPDIR=$W/pprof-tmp # perl pprof writes here, not $HOME/pprof
export HOME=${HOME:-$W}
# Make runs independent of the caller's settings.
unset HEAPPROFILE HEAPCHECK HEAPSCOPE_SAMPLE_BYTES HEAPSCOPE_UNWINDER HEAPSCOPE_STACK_DEPTH \
  HEAP_PROFILE_ALLOCATION_INTERVAL HEAP_PROFILE_DEALLOCATION_INTERVAL \
  HEAP_PROFILE_INUSE_INTERVAL HEAP_PROFILE_TIME_INTERVAL HEAPSCOPE_PROFILE_FORMAT \
  HEAPPROFILE_USE_PID LD_PRELOAD || true
# The cases read the dump progress lines (reasons, file names); heapscope
# prints them only when asked (tests/reliability checks the default).
export HEAPSCOPE_VERBOSE=1

fail() { printf 'FAIL (%s): %s\n' "$case_" "$*" >&2; exit 1; }
skip() { printf 'SKIP (%s): %s\n' "$case_" "$*" >&2; exit 77; }
note() { printf '[%s] %s\n' "$case_" "$*" >&2; }
pre() { env LD_PRELOAD="$HS_PRELOAD" "$@"; }
check() { "$HS_PROFCHECK" "$@" || fail "profcheck $*"; }

have_go() { command -v go >/dev/null && go tool pprof -h >/dev/null 2>&1; }
have_perl_pprof() { command -v google-pprof >/dev/null; }
PERL_PPROF=google-pprof

# go_top ARGS...: `go tool pprof -top` with every node shown; sizes in
# plain bytes (B), counts as plain numbers.
go_top() {
  local out unit=-unit=B
  case "$*" in *_objects*) unit= ;; esac
  out=$(go tool pprof -top -nodefraction=0 -edgefraction=0 $unit "$@" 2>"$W/go.err") ||
    { cat "$W/go.err" >&2; fail "go tool pprof $*"; }
  printf '%s\n' "$out"
}
# expect_row TEXT FUNC COLUMN VALUE: the -top/--text row naming FUNC (last
# field) has VALUE in COLUMN (1 = flat, 4 = cum).
expect_row() {
  local text=$1 fn=$2 col=$3 want=$4 got
  got=$(printf '%s\n' "$text" | awk -v fn="$fn" -v c="$col" '$NF == fn { print $c; exit }')
  [ "$got" = "$want" ] || {
    printf '%s\n' "$text" >&2
    fail "pprof: $fn column $col is '${got:-<missing>}', expected '$want'"
  }
  note "pprof: $fn column $col = $want"
}

# The known pattern of prof_basic.c, per leaf function: io ib ao ab.
BASIC_TOTAL="27 2134396 53 3259456"
basic_checks() { # FILE
  check --total $BASIC_TOTAL \
    --leaf alloc_small 10 10000 10 10000 \
    --leaf alloc_freed 0 0 20 60000 \
    --leaf alloc_half 4 16384 8 32768 \
    --leaf alloc_calloc 3 3000 3 3000 \
    --leaf grow_buf 1 5000 2 5100 \
    --leaf alloc_large 2 2097152 3 3145728 \
    --leaf alloc_aligned 4 2560 4 2560 \
    --stack dup_string 3 300 3 300 \
    --stack run_pattern 27 2134396 53 3259456 \
    --stack main 27 2134396 53 3259456 \
    "$1"
}

one_line() { # FILE REGEX: exactly one heapscope: line, and it matches
  local n
  n=$(grep -c '^heapscope: ' "$1" || true)
  [ "$n" = 1 ] || { cat "$1" >&2; fail "expected exactly one heapscope: line, got $n"; }
  grep -q "$2" "$1" || { cat "$1" >&2; fail "the heapscope: line does not match '$2'"; }
}

case $case_ in
basic_preload | basic_linked)
  prog=$HS_BIN/prof_basic
  [ "$case_" = basic_linked ] && prog=$HS_BIN/prof_basic_linked
  if [ "$case_" = basic_linked ]; then
    HEAPPROFILE=$W/p "$prog" >out.txt 2>err.txt
  else
    HEAPPROFILE=$W/p pre "$prog" >out.txt 2>err.txt
  fi
  grep -qx 'pattern done' out.txt || fail "program output"
  [ -f p.0001.heap ] && [ ! -e p.0002.heap ] || fail "expected exactly p.0001.heap"
  grep -q "^heapscope: dumping heap profile to $W/p.0001.heap (exiting)" err.txt ||
    fail "no dump message"
  basic_checks p.0001.heap
  ;;

pprof_go)
  have_go || skip "go tool pprof not installed"
  HEAPPROFILE=$W/p pre "$HS_BIN/prof_basic" >/dev/null 2>&1
  basic_checks p.0001.heap
  t=$(go_top -inuse_space "$HS_BIN/prof_basic" p.0001.heap)
  grep -q 'Type: inuse_space' <<<"$t" || fail "go pprof: not inuse_space"
  grep -q 'of 2134396B total' <<<"$t" || { echo "$t" >&2; fail "go pprof: total"; }
  expect_row "$t" alloc_small 1 10000B
  expect_row "$t" alloc_half 1 16384B
  expect_row "$t" alloc_calloc 1 3000B
  expect_row "$t" grow_buf 1 5000B
  expect_row "$t" alloc_large 1 2097152B
  expect_row "$t" alloc_aligned 1 2560B
  expect_row "$t" run_pattern 4 2134396B
  expect_row "$t" main 4 2134396B
  grep -q ' alloc_freed$' <<<"$t" && fail "go pprof: alloc_freed has no in-use bytes"
  t=$(go_top -alloc_space "$HS_BIN/prof_basic" p.0001.heap)
  grep -q 'of 3259456B total' <<<"$t" || { echo "$t" >&2; fail "go pprof alloc_space total"; }
  expect_row "$t" alloc_freed 1 60000B
  expect_row "$t" grow_buf 1 5100B
  expect_row "$t" alloc_large 1 3145728B
  expect_row "$t" dup_string 4 300B
  t=$(go_top -sample_index=inuse_objects "$HS_BIN/prof_basic" p.0001.heap)
  grep -q 'of 27 total' <<<"$t" || { echo "$t" >&2; fail "go pprof inuse_objects total"; }
  expect_row "$t" alloc_small 1 10
  expect_row "$t" alloc_half 1 4
  expect_row "$t" alloc_aligned 1 4
  t=$(go_top -sample_index=alloc_objects "$HS_BIN/prof_basic" p.0001.heap)
  expect_row "$t" alloc_freed 1 20
  ;;

pprof_perl)
  have_perl_pprof || skip "google-pprof not installed"
  HEAPPROFILE=$W/p pre "$HS_BIN/prof_basic" >/dev/null 2>&1
  basic_checks p.0001.heap
  mkdir -p "$PPROF_TMPDIR"
  t=$($PERL_PPROF --text --show_bytes --nodefraction=0 --inuse_space "$HS_BIN/prof_basic" \
    p.0001.heap 2>perl.err) || { cat perl.err >&2; fail "google-pprof"; }
  grep -q '^Total: 2134396 B' <<<"$t" || { echo "$t" >&2; fail "perl pprof: total"; }
  expect_row "$t" alloc_small 1 10000
  expect_row "$t" alloc_half 1 16384
  expect_row "$t" grow_buf 1 5000
  expect_row "$t" alloc_large 1 2097152
  expect_row "$t" alloc_aligned 1 2560
  expect_row "$t" run_pattern 4 2134396
  t=$($PERL_PPROF --text --show_bytes --nodefraction=0 --alloc_space "$HS_BIN/prof_basic" \
    p.0001.heap 2>perl.err) || { cat perl.err >&2; fail "google-pprof"; }
  grep -q '^Total: 3259456 B' <<<"$t" || { echo "$t" >&2; fail "perl pprof: alloc total"; }
  expect_row "$t" alloc_freed 1 60000
  t=$($PERL_PPROF --text --nodefraction=0 --inuse_objects "$HS_BIN/prof_basic" \
    p.0001.heap 2>perl.err) || { cat perl.err >&2; fail "google-pprof"; }
  expect_row "$t" alloc_small 1 10
  # --lines: file:line of the malloc call in alloc_small (prof_basic.c).
  t=$($PERL_PPROF --text --lines --show_bytes --nodefraction=0 --inuse_space \
    "$HS_BIN/prof_basic" p.0001.heap 2>perl.err) || { cat perl.err >&2; fail "google-pprof --lines"; }
  grep -Eq '^ +10000 .*alloc_small .*prof_basic\.c:[0-9]+' <<<"$t" ||
    { echo "$t" >&2; fail "perl pprof --lines: no alloc_small file:line"; }
  ;;

api)
  "$HS_BIN/prof_api" "$W/a" >out.txt 2>err.txt || { cat err.txt >&2; fail "prof_api"; }
  grep -qx 'api ok' out.txt || fail "program output"
  grep -q '^heapscope: HeapProfilerStart: empty prefix' err.txt || fail "no empty-prefix line"
  # First dump: exactly what was allocated after the start, before it.
  check --total 6 12000 10 14800 --leaf api_keep 6 12000 6 12000 \
    --leaf api_temp 0 0 4 2800 --absent before_start --absent after_stop a.0001.heap
  check --total 6 12000 10 14800 --leaf api_keep 6 12000 6 12000 a.getheap
  # Second: half of api_keep released; GetHeapProfile's strings (recorded,
  # attributed to main, all freed) add allocations but nothing in use.
  check --total 3 6000 '>=14' '>=14800' --leaf api_keep 3 6000 6 12000 \
    --leaf api_temp 0 0 4 2800 --leaf main 0 0 '>=4' '*' --absent after_stop a.0002.heap
  [ ! -e a.0003.heap ] || fail "a dump after HeapProfilerStop"
  ;;

api_getheap_free)
  # GetHeapProfile + free() while HEAPPROFILE keeps the records complete:
  # the string must be an ordinary recorded block (no false double free).
  HEAPPROFILE=$W/h "$HS_BIN/prof_api" "$W/a" >out.txt 2>err.txt ||
    { cat err.txt >&2; fail "prof_api under HEAPPROFILE"; }
  grep -qx 'api ok' out.txt || fail "program output"
  ;;

intervals_alloc)
  HEAPPROFILE=$W/p HEAP_PROFILE_ALLOCATION_INTERVAL=1000000 pre "$HS_BIN/prof_intervals" \
    alloc "$W/p" >out.txt 2>err.txt
  n=$(sed -n 's/^dumps=//p' out.txt)
  note "dumps while running: $n"
  [ "$n" -ge 10 ] || fail "expected >= 10 dumps for 10 MiB at 1 MB intervals, got $n"
  files=(p.*.heap)
  for i in $(seq 1 $((n + 1))); do
    f=$(printf 'p.%04d.heap' "$i")
    [ -f "$f" ] || fail "missing $f (dumps must be numbered from 0001 without gaps)"
  done
  [ ${#files[@]} -eq $((n + 1)) ] || fail "unexpected extra files: ${files[*]}"
  check --parse-only "${files[@]}"
  [ "$(grep -c 'MB allocated' err.txt)" -eq "$n" ] || fail "dump reasons"
  # The last one (at exit): alloc_chunk allocated 10240 blocks of 1 KiB.
  check --leaf alloc_chunk 0 0 10240 10485760 "$(printf 'p.%04d.heap' $((n + 1)))"
  ;;

intervals_inuse)
  HEAPPROFILE=$W/p HEAP_PROFILE_INUSE_INTERVAL=1000000 pre "$HS_BIN/prof_intervals" \
    inuse "$W/p" >out.txt 2>err.txt || { cat out.txt err.txt >&2; fail "prof_intervals inuse"; }
  note "$(cat out.txt)"
  grep -q 'MB in use' err.txt || fail "dump reason"
  check --parse-only p.*.heap
  ;;

intervals_dealloc)
  HEAPPROFILE=$W/p HEAP_PROFILE_DEALLOCATION_INTERVAL=1000000 pre "$HS_BIN/prof_intervals" \
    dealloc "$W/p" >out.txt 2>err.txt || { cat out.txt err.txt >&2; fail "prof_intervals dealloc"; }
  note "$(cat out.txt)"
  grep -q 'MB freed' err.txt || fail "dump reason"
  check --parse-only p.*.heap
  ;;

intervals_time)
  # The allocation trigger is pushed out of reach: on a fast machine 2.5 s of
  # churn passes the default 1 GiB, and any dump restarts the clock.
  HEAPPROFILE=$W/p HEAP_PROFILE_TIME_INTERVAL=1 HEAP_PROFILE_ALLOCATION_INTERVAL=1125899906842624 pre "$HS_BIN/prof_intervals" \
    time "$W/p" >out.txt 2>err.txt || { cat out.txt err.txt >&2; fail "prof_intervals time"; }
  note "$(cat out.txt)"
  grep -q 'sec since the last dump' err.txt || fail "dump reason"
  check --parse-only p.*.heap
  ;;

deep_fp_64 | deep_libunwind_64 | deep_auto_64)
  u=${case_#deep_}
  u=${u%_64}
  HEAPPROFILE=$W/p HEAPSCOPE_UNWINDER=$u HEAPSCOPE_STACK_DEPTH=64 pre "$HS_BIN/prof_deep" \
    >/dev/null 2>err.txt
  # deep_leaf, 50 x recurse, main, then libc's start frames.
  check --leaf deep_leaf 3 12288 3 12288 --frames deep_leaf recurse 50 \
    --frames deep_leaf main 1 --depth deep_leaf '>=52' p.0001.heap
  if have_go; then
    t=$(go_top -inuse_space "$HS_BIN/prof_deep" p.0001.heap)
    expect_row "$t" deep_leaf 1 12288B
    expect_row "$t" recurse 4 12288B
    expect_row "$t" main 4 12288B
  fi
  ;;

deep_fp_default | deep_libunwind_default)
  u=${case_#deep_}
  u=${u%_default}
  HEAPPROFILE=$W/p HEAPSCOPE_UNWINDER=$u pre "$HS_BIN/prof_deep" >/dev/null 2>err.txt
  # The default depth (30) keeps deep_leaf and 29 recurse frames, not main.
  check --leaf deep_leaf 3 12288 3 12288 --depth deep_leaf 30 \
    --frames deep_leaf recurse 29 --frames deep_leaf main 0 p.0001.heap
  if have_go; then
    t=$(go_top -inuse_space "$HS_BIN/prof_deep" p.0001.heap)
    expect_row "$t" recurse 4 12288B
  fi
  ;;

threads)
  HEAPPROFILE=$W/p pre "$HS_BIN/prof_threads" >out.txt 2>err.txt
  grep -qx 'threads done' out.txt || fail "program output"
  # malloc's caller is work(); thread_work_i is the frame above it.
  check --stack thread_work_0 250 12000 500 24000 \
    --stack thread_work_1 500 48000 1000 96000 \
    --stack thread_work_2 750 108000 1500 216000 \
    --stack thread_work_3 1000 192000 2000 384000 \
    --leaf work 2500 360000 5000 720000 p.0001.heap
  if have_go; then
    t=$(go_top -inuse_space "$HS_BIN/prof_threads" p.0001.heap)
    expect_row "$t" work 1 360000B
    expect_row "$t" thread_work_0 4 12000B
    expect_row "$t" thread_work_3 4 192000B
  fi
  ;;

fork)
  HEAPPROFILE=$W/p pre "$HS_BIN/prof_fork" >out.txt 2>err.txt
  child=$(sed -n 's/^child=//p' out.txt)
  [ -n "$child" ] || fail "no child pid"
  [ -f p.0001.heap ] || fail "no parent dump"
  [ -f "p_$child.0001.heap" ] || { ls >&2; fail "no child dump p_$child.0001.heap"; }
  [ ! -e p.0002.heap ] || fail "the child wrote into the parent's numbering"
  check --leaf parent_alloc 3 3333 3 3333 --absent child_alloc p.0001.heap
  check --leaf parent_alloc 3 3333 3 3333 --leaf child_alloc 5 11110 5 11110 \
    "p_$child.0001.heap"
  ;;

dlopen)
  : "${HS_PROFDL:?}"
  HEAPPROFILE=$W/p pre "$HS_BIN/prof_dlopen" "$HS_PROFDL" >out.txt 2>err.txt
  grep -qx 'dlopen done' out.txt || fail "program output"
  check --leaf dl_alloc 7 5439 7 5439 --stack main '>=7' '>=5439' '*' '*' p.0001.heap
  if have_go; then
    t=$(go_top -inuse_space "$HS_BIN/prof_dlopen" p.0001.heap)
    expect_row "$t" dl_alloc 1 5439B
  fi
  ;;

unwritable)
  "$HS_BIN/prof_intervals" plain x >ref.out 2>ref.err && rc0=0 || rc0=$?
  HEAPPROFILE=/nonexistent/dir/p HEAP_PROFILE_ALLOCATION_INTERVAL=100000 \
    HEAP_PROFILE_INUSE_INTERVAL=1 pre "$HS_BIN/prof_intervals" plain x >out.txt 2>err.txt &&
    rc=0 || rc=$?
  [ "$rc0" = 3 ] || fail "reference exit status $rc0"
  [ "$rc" = "$rc0" ] || fail "exit status $rc, expected $rc0"
  cmp -s ref.out out.txt || fail "stdout changed"
  one_line err.txt '^heapscope: cannot write heap profile /nonexistent/dir/p\.0001\.heap'
  [ -z "$(grep -v '^heapscope: ' err.txt)" ] || fail "other stderr output"
  ;;

concurrent)
  HEAP_PROFILE_ALLOCATION_INTERVAL=2000000 timeout 180 "$HS_BIN/prof_concurrent" "$W/c" \
    >out.txt 2>err.txt || { cat err.txt >&2; fail "prof_concurrent (deadlock or crash)"; }
  n=$(sed -n 's/^dumps=//p' out.txt)
  note "dumps: $n"
  [ "$n" -ge 50 ] || fail "expected >= 50 dumps, got $n"
  # Every dump parses and is self-consistent (header = sum of lines), even
  # though other threads allocated while it was written.
  check --parse-only c.*.heap
  ;;

sampled)
  # 100 MiB of 1 KiB blocks sampled every 512 KiB on average: ~200 samples,
  # so one run's estimate has a ~7% standard deviation. Five runs: each
  # within 25%, their mean within 10% (about 3 standard deviations).
  truth=104857600
  sum=0
  for r in 1 2 3 4 5; do
    HEAPPROFILE=$W/s$r HEAPSCOPE_SAMPLE_BYTES=524288 pre "$HS_BIN/prof_sampled" 100 \
      >/dev/null 2>err.txt
    check --stack alloc_sampled 0 0 '*' "$truth~25" "s$r.0001.heap"
    ab=$(head -1 "s$r.0001.heap" | sed -E 's/.*\[ *[0-9]+: *([0-9]+)\].*/\1/')
    sum=$((sum + ab))
  done
  mean=$((sum / 5))
  note "mean estimate $mean for $truth"
  dev=$(((mean - truth) * 1000 / truth))
  [ "${dev#-}" -le 100 ] || fail "mean estimate $mean is more than 10% off $truth"
  # Interval triggers count what sampled objects stand for, not their sizes.
  HEAPPROFILE=$W/i HEAPSCOPE_SAMPLE_BYTES=524288 HEAP_PROFILE_ALLOCATION_INTERVAL=10000000 \
    pre "$HS_BIN/prof_sampled" 100 >/dev/null 2>err.txt
  n=$(ls i.*.heap | wc -l)
  note "sampled run with 10 MB allocation interval: $n dumps"
  [ "$n" -ge 7 ] && [ "$n" -le 14 ] || fail "expected about 11 dumps, got $n"
  ;;

bad_env)
  for v in HEAP_PROFILE_ALLOCATION_INTERVAL HEAP_PROFILE_DEALLOCATION_INTERVAL \
    HEAP_PROFILE_INUSE_INTERVAL HEAP_PROFILE_TIME_INTERVAL HEAPSCOPE_SAMPLE_BYTES; do
    rm -f p.*
    env "$v=abc" HEAPPROFILE=$W/p LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/prof_intervals" plain x \
      >out.txt 2>err.txt && rc=0 || rc=$?
    [ "$rc" = 3 ] || fail "$v=abc: exit status $rc"
    grep -v 'dumping heap profile' err.txt >err2.txt || true
    one_line err2.txt "^heapscope: invalid $v='abc'.*; using "
    # The defaults: 1 GiB / off / 100 MB / off / no sampling => only the
    # exit dump, with exact numbers.
    [ "$(ls p.*.heap)" = p.0001.heap ] || fail "$v=abc: $(ls p.*)"
    check --leaf alloc_chunk 0 0 10240 10485760 p.0001.heap
  done
  rm -f p.*
  HEAPSCOPE_PROFILE_FORMAT=xml HEAPPROFILE=$W/p pre "$HS_BIN/prof_intervals" plain x \
    >out.txt 2>err.txt || true
  grep -v 'dumping heap profile' err.txt >err2.txt || true
  one_line err2.txt "^heapscope: invalid HEAPSCOPE_PROFILE_FORMAT='xml'"
  [ -f p.0001.heap ] || fail "HEAPSCOPE_PROFILE_FORMAT=xml: no text dump"
  ;;

proto_basic)
  have_go || skip "go tool pprof not installed"
  # Run a copy of the program, then delete it: the profile must be readable
  # without the binary (self-symbolized, has_functions set).
  cp "$HS_BIN/prof_basic" ./copy_of_prof_basic
  HEAPSCOPE_PROFILE_FORMAT=proto HEAPPROFILE=$W/p pre ./copy_of_prof_basic >/dev/null 2>err.txt
  rm ./copy_of_prof_basic
  f=p.0001.pb.gz
  [ -f $f ] || { [ -f p.0001.pb ] && f=p.0001.pb; } || { ls >&2; fail "no proto dump"; }
  [ ! -e p.0001.heap ] || fail "text dump in proto mode"
  grep -q "dumping heap profile to $W/$f" err.txt || fail "dump message"
  [ $f = p.0001.pb ] || [ "$(head -c2 $f | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
    fail "$f is not gzip"
  t=$(PPROF_BINARY_PATH=/nonexistent go_top -inuse_space $f)
  grep -q 'of 2134396B total' <<<"$t" || { echo "$t" >&2; fail "proto: inuse total"; }
  expect_row "$t" alloc_small 1 10000B
  expect_row "$t" alloc_half 1 16384B
  expect_row "$t" alloc_calloc 1 3000B
  expect_row "$t" grow_buf 1 5000B
  expect_row "$t" alloc_large 1 2097152B
  expect_row "$t" alloc_aligned 1 2560B
  expect_row "$t" dup_string 4 300B
  expect_row "$t" main 4 2134396B
  t=$(go_top -alloc_space $f)
  grep -q 'of 3259456B total' <<<"$t" || { echo "$t" >&2; fail "proto: alloc total"; }
  expect_row "$t" alloc_freed 1 60000B
  expect_row "$t" grow_buf 1 5100B
  t=$(go_top -sample_index=inuse_objects $f)
  expect_row "$t" alloc_small 1 10
  t=$(go_top -sample_index=alloc_objects $f)
  expect_row "$t" alloc_freed 1 20
  # File and line of each site come from the profile itself.
  t=$(go_top -lines -inuse_space $f)
  grep -Eq '^ +10000B .* alloc_small .*prof_basic\.c:[0-9]+$' <<<"$t" ||
    { echo "$t" >&2; fail "proto: no file:line for alloc_small"; }
  raw=$(go tool pprof -raw $f 2>/dev/null)
  grep -q 'inuse_space/bytes\[dflt\]' <<<"$raw" || fail "proto: default sample type"
  grep -q 'PeriodType: space bytes' <<<"$raw" || fail "proto: period type"
  m=$(sed -n '/^Mappings/,$p' <<<"$raw")
  grep -Eq '^1: .*copy_of_prof_basic [0-9a-f]{40} \[FN\]\[FL\]\[LN\]\[IN\]$' <<<"$m" ||
    { echo "$m" >&2; fail "proto: main mapping (first, build-id, flags)"; }
  ! grep -v '^Mappings' <<<"$m" | grep -vq '\[FN\]\[FL\]\[LN\]' ||
    { echo "$m" >&2; fail "proto: a mapping lacks has_functions/filenames/line_numbers"; }
  bid=$(readelf -n "$HS_BIN/prof_basic" 2>/dev/null | sed -n 's/.*Build ID: //p')
  [ -z "$bid" ] || grep -q "$bid" <<<"$m" || fail "proto: build-id differs from readelf's"
  ;;

proto_dlclose)
  have_go || skip "go tool pprof not installed"
  : "${HS_PROFDL:?}"
  HEAPSCOPE_PROFILE_FORMAT=proto HEAPPROFILE=$W/p pre "$HS_BIN/prof_dlopen" "$HS_PROFDL" close \
    >/dev/null 2>err.txt
  f=$(ls p.0001.pb*)
  t=$(go_top -inuse_space -lines "$f")
  grep -Eq '^ +5439B .* dl_alloc .*profdl\.c:[0-9]+$' <<<"$t" ||
    { echo "$t" >&2; fail "proto: the dlclose'd library's dl_alloc is not named"; }
  ;;

proto_api)
  have_go || skip "go tool pprof not installed"
  HEAPSCOPE_PROFILE_FORMAT=proto "$HS_BIN/prof_concurrent" "$W/c" >out.txt 2>err.txt ||
    { cat err.txt >&2; fail "prof_concurrent (proto)"; }
  n=$(ls c.*.pb* | wc -l)
  [ "$n" -ge 50 ] || fail "expected >= 50 proto dumps, got $n"
  # Every dump reads; the last one (both allocators long started) names both.
  for f in c.*.pb*; do
    go tool pprof -raw "$f" >/dev/null 2>&1 || fail "go pprof can not read $f"
  done
  f=$(ls c.*.pb* | tail -1)
  t=$(go_top -alloc_space "$f")
  grep -q ' churn_a$' <<<"$t" && grep -q ' churn_b$' <<<"$t" ||
    { echo "$t" >&2; fail "proto: churn_a/churn_b missing in $f"; }
  ;;

*)
  fail "unknown case"
  ;;
esac
note "ok"
