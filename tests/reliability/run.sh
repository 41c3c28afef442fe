#!/usr/bin/env bash
# Reliability test driver (issue 9): runs one case, registered by
# tests/reliability/CMakeLists.txt as reliability.<case>. Every program runs
# under `timeout`: a hang is a failure with a message, not a stuck CTest.
#
# Environment (set by CTest): HS_PRELOAD (libheapscope.so), HS_BIN (test
# programs), HS_WORK (scratch). Exit status: 0 pass, 1 fail, 77 skipped.
set -euo pipefail

case_=${1:?usage: run.sh CASE}
: "${HS_PRELOAD:?}" "${HS_BIN:?}" "${HS_WORK:?}"
W=$HS_WORK/$case_
rm -rf "$W"
mkdir -p "$W"
cd "$W"
# Runs must not depend on the caller's settings.
for v in $(env | sed -n 's/^\(HEAP[A-Z_]*\|LSAN_OPTIONS\|ASAN_OPTIONS\|PERFTOOLS_[A-Z_]*\)=.*/\1/p'); do
  unset "$v"
done
unset LD_PRELOAD || true

# Messages go to fd 3 (the driver's stderr): `run ... 2>err.txt` redirects
# the function's own stderr too.
exec 3>&2
fail() { printf 'FAIL (%s): %s\n' "$case_" "$*" >&3; exit 1; }
skip() { printf 'SKIP (%s): %s\n' "$case_" "$*" >&3; exit 77; }
note() { printf '[%s] %s\n' "$case_" "$*" >&3; }
show() { for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&3; head -c 4000 "$f" >&3; }; done; return 0; }
# run SECONDS CMD...: status in $rc; 124 (timeout) is always a failure.
run() {
  local t=$1
  shift
  rc=0
  timeout -k 5 "$t" "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    show out.txt err.txt
    fail "hung (killed after ${t}s): $*"
  fi
}
# count_lines FILE REGEX
count_lines() { grep -c -E "$2" "$1" || true; }

case $case_ in
cancel_dump)
  HEAPSCOPE_VERBOSE=0 run 60 "$HS_BIN/rel_hangs" cancel_dump "$W" >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -qx 'ok cancel_dump' out.txt || fail "no ok line"
  n=$(ls c.*.heap | wc -l)
  note "$n dumps written; exit dump present: $(ls c.*.heap | tail -1)"
  ;;

cancel_check)
  run 60 "$HS_BIN/rel_hangs" cancel_check >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -qx 'ok cancel_check' out.txt || fail "no ok line"
  ;;

reentrant_dump)
  HEAPPROFILE=$W/r HEAP_PROFILE_ALLOCATION_INTERVAL=1 \
    run 60 "$HS_BIN/rel_hangs" reentrant_dump >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok reentrant_dump' out.txt || fail "no ok line"
  n=$(count_lines err.txt '^heapscope: heap profile dump \(signal\) requested while this thread is writing one')
  note "$(cat out.txt); $n signal(s) landed inside a dump and were skipped"
  [ "$n" -ge 1 ] || { show err.txt; fail "no signal landed inside a dump: the case did not test re-entrance"; }
  [ "$n" -le 200 ] || fail "more skip lines ($n) than signals"
  other=$(grep -v -E '^heapscope: heap profile dump \(signal\) requested' err.txt || true)
  [ -z "$other" ] || { show err.txt; fail "unexpected stderr"; }
  ls r.*.heap >/dev/null || fail "no dumps"
  rm -f r.*.heap
  ;;

startstop)
  run 100 "$HS_BIN/rel_hangs" startstop "$W" >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok startstop' out.txt || fail "no ok line"
  ;;

fork_locks)
  run 100 "$HS_BIN/rel_fork_locks" >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  cat out.txt >&3
  ;;

*) fail "unknown case" ;;
esac
exit 0
