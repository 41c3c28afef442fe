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

stw)
  # Checks racing thread start-up, exit and busy stacks: any report is false.
  # Three processes of 300 checks each, then each one's exit check.
  for i in 1 2 3; do
    HEAPCHECK=normal run 100 "$HS_BIN/rel_verdicts" stw 300 >out.txt 2>err.txt
    [ "$rc" = 0 ] || { show out.txt err.txt; fail "run $i: exit status $rc"; }
    grep -q '^ok stw rounds=300' out.txt || fail "run $i: no ok line"
    [ ! -s err.txt ] || { show err.txt; fail "run $i: unexpected stderr"; }
  done
  note "900 checks during thread churn, no false report"
  ;;

child_clean)
  HEAPCHECK=normal HEAPSCOPE_CHECK_CHILDREN=1 run 60 "$HS_BIN/rel_verdicts" child_clean \
    >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -qx 'child status 0' out.txt || { show out.txt err.txt; fail "the clean child failed its check"; }
  [ ! -s err.txt ] || { show err.txt; fail "unexpected stderr"; }
  ;;

child_leak)
  HEAPCHECK=normal HEAPSCOPE_CHECK_CHILDREN=1 run 60 "$HS_BIN/rel_verdicts" child_leak \
    >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -qx 'child status 1' out.txt || { show out.txt err.txt; fail "the leaking child passed"; }
  grep -q 'in child_leaks .*rel_verdicts.c' err.txt || { show err.txt; fail "no report of the child's leak"; }
  grep -q '^SUMMARY: heapscope: 77 byte(s) leaked in 1 allocation(s)' err.txt ||
    { show err.txt; fail "the child reported more than its own leak"; }
  ;;

stop_signal)
  for s in 9 19 32 33 11; do
    HEAPCHECK=normal HEAPSCOPE_STOP_SIGNAL=$s run 60 "$HS_BIN/rel_verdicts" stop_signal \
      >out.txt 2>err.txt
    [ "$rc" = 0 ] || { show out.txt err.txt; fail "signal $s: exit status $rc"; }
    grep -qx 'check rc=0' out.txt || { show out.txt; fail "signal $s: check failed"; }
    [ "$(wc -l <err.txt)" = 1 ] || { show err.txt; fail "signal $s: expected one line"; }
    grep -q "^heapscope: invalid HEAPSCOPE_STOP_SIGNAL=$s (signal $s .*); using [0-9]*\$" err.txt ||
      { show err.txt; fail "signal $s: not rejected"; }
  done
  HEAPCHECK=normal HEAPSCOPE_STOP_SIGNAL=12 run 60 "$HS_BIN/rel_verdicts" stop_signal \
    >out.txt 2>err.txt
  [ "$rc" = 0 ] && grep -qx 'check rc=0' out.txt && [ ! -s err.txt ] ||
    { show out.txt err.txt; fail "SIGUSR2 (12) not usable"; }
  ;;

norecord)
  run 60 "$HS_BIN/rel_verdicts" norecord >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok norecord: recording is off' out.txt || { show out.txt; fail "no ok line"; }
  # heapscope_leaks_since and heapscope_check_now say so; check_* return it.
  [ "$(count_lines err.txt '^heapscope: leak check could not be completed: recording is off')" = 2 ] ||
    { show err.txt; fail "expected two lines"; }
  [ "$(wc -l <err.txt)" = 2 ] || { show err.txt; fail "unexpected stderr"; }
  ;;

unstoppable)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_verdicts" unstoppable >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok unstoppable: some threads could not be paused' out.txt || fail "no ok line"
  grep -q '^heapscope: thread [0-9]* blocks signal [0-9]* and is running' err.txt ||
    { show err.txt; fail "the unpaused thread is not named"; }
  ! grep -q 'leak of' err.txt || { show err.txt; fail "a report built on an incomplete stop"; }
  ;;

unstoppable_exit)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_verdicts" unstoppable_exit >out.txt 2>err.txt
  [ "$rc" = 2 ] || { show out.txt err.txt; fail "exit status $rc, expected 2 (no verdict)"; }
  grep -q '^heapscope: ERROR: the exit-time leak check could not be completed: some threads' \
    err.txt || { show err.txt; fail "no ERROR line"; }
  ! grep -q 'leak of' err.txt || { show err.txt; fail "a report built on an incomplete stop"; }
  ;;

oom)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_verdicts" oom >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok oom: out of memory' out.txt || { show out.txt err.txt; fail "no ok line"; }
  ;;

cmocka_noverdict)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_cmocka" >out.txt 2>err.txt
  cat out.txt err.txt >all.txt
  [ "$rc" = 2 ] || { show all.txt; fail "exit status $rc, expected 2 (one failed, one error)"; }
  grep -q '^\[  FAILED  \] test_unverifiable_body' all.txt || { show all.txt; fail "body check: not FAILED"; }
  grep -q '^\[  ERROR   \] test_unverifiable_teardown' all.txt ||
    { show all.txt; fail "teardown check: not ERROR"; }
  grep -q '^\[       OK \] test_clean' all.txt || { show all.txt; fail "the clean test did not pass"; }
  [ "$(count_lines all.txt "heapscope: ERROR: the leak check of test 'test_unverifiable_(body|teardown)' could not be completed: some threads could not be paused")" = 2 ] ||
    { show all.txt; fail "the reason is not given for both"; }
  ! grep -q 'leak of' all.txt || { show all.txt; fail "a leak report built on an incomplete stop"; }
  ;;

*) fail "unknown case" ;;
esac
exit 0
