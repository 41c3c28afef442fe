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
[ "${2:-}" = inner ] || { rm -rf "$W"; mkdir -p "$W"; }
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
# with_tmpfs SIZE "${2:-}": mounts a tmpfs of SIZE on $W/mnt in a private mount
# namespace (gone when the case ends) and runs the rest of this case there
# (run.sh re-executes itself as "CASE inner"). Needs root (CI runs as root).
with_tmpfs() {
  if [ "${2:-}" = inner ]; then return 0; fi
  [ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs (run the suite as root)"
  command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
  unshare -m true 2>/dev/null || skip "cannot create a mount namespace here"
  mkdir -p "$W/mnt"
  exec 3>&-
  exec unshare -m --propagation private bash -c \
    'mount -t tmpfs -o size="$1" tmpfs "$2" && exec bash "$3" "$4" inner' \
    with_tmpfs "$1" "$W/mnt" "$0" "$case_"
}
# fill_disk DIR: every data block of DIR's filesystem in use.
fill_disk() { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; }
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

stale_stack)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_stale_stack" >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  cat out.txt >&3
  ;;

signal_stack)
  run 100 "$HS_BIN/rel_signal_stack" >out.txt 2>err.txt
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

realloc)
  HEAPCHECK=normal run 60 "$HS_BIN/rel_verdicts" realloc 300 >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^ok realloc rounds=300' out.txt || fail "no ok line"
  [ ! -s err.txt ] || { show err.txt; fail "unexpected stderr"; }
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

close_stderr)
  HEAPCHECK=normal run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" close_stderr >out.txt 2>err.txt
  [ "$rc" = 1 ] || { show err.txt; fail "exit status $rc, expected 1 (leak)"; }
  grep -q 'in leak_one .*rel_output.c' err.txt || { show err.txt; fail "report lost"; }
  ;;

reuse_stderr)
  echo "program data" >data.txt
  HEAPCHECK=normal run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" reuse_stderr "$W/data.txt" >out.txt 2>err.txt
  [ "$rc" = 1 ] || { show err.txt data.txt; fail "exit status $rc, expected 1 (leak)"; }
  grep -q 'in leak_one .*rel_output.c' err.txt || { show err.txt data.txt; fail "report lost"; }
  [ "$(cat data.txt)" = "program data" ] || { show data.txt; fail "report written into the program's file"; }
  ;;

log_full)
  with_tmpfs 64k "${2:-}"
  fill_disk mnt
  HEAPCHECK=normal HEAPSCOPE_LOG_PATH=$W/mnt/log run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" leak \
    >out.txt 2>err.txt
  [ "$rc" = 1 ] || { show err.txt; fail "exit status $rc, expected 1"; }
  grep -q "^heapscope: cannot write leak report to $W/mnt/log\.[0-9]*: No space left on device; writing it to stderr" \
    err.txt || { show err.txt; fail "no fallback line"; }
  grep -q 'in leak_one .*rel_output.c' err.txt || { show err.txt; fail "report lost"; }
  ! grep -q 'report in' err.txt || { show err.txt; fail "claims a report file"; }
  [ -z "$(ls mnt | grep -v filler)" ] || { ls -la mnt >&3; fail "file left on the full disk"; }
  ;;

log_readonly)
  with_tmpfs 64k "${2:-}"
  mount -o remount,ro "$W/mnt"
  HEAPCHECK=normal HEAPSCOPE_LOG_PATH=$W/mnt/log run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" leak \
    >out.txt 2>err.txt
  [ "$rc" = 1 ] || { show err.txt; fail "exit status $rc, expected 1"; }
  grep -q "^heapscope: cannot write leak report to $W/mnt/log\.[0-9]*: Read-only file system; writing it to stderr" \
    err.txt || { show err.txt; fail "no fallback line"; }
  grep -q 'in leak_one .*rel_output.c' err.txt || { show err.txt; fail "report lost"; }
  ;;

report_full)
  with_tmpfs 64k "${2:-}"
  fill_disk mnt
  HEAPCHECK=normal HEAPSCOPE_REPORT=json HEAPSCOPE_REPORT_PATH=$W/mnt/r.json \
    run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" leak >out.txt 2>err.txt
  [ "$rc" = 1 ] || { show err.txt; fail "exit status $rc, expected 1"; }
  grep -q "^heapscope: cannot write JSON leak report to $W/mnt/r.json: No space left on device; writing it to stderr" \
    err.txt || { show err.txt; fail "no fallback line"; }
  grep -q '^{"tool":"heapscope"' err.txt || { show err.txt; fail "JSON report lost"; }
  [ ! -e mnt/r.json ] || fail "empty JSON file left on the full disk"
  ;;

heapprofile_full)
  with_tmpfs 256k "${2:-}"
  # Dumps every 2 MiB allocated: 60-odd dumps of 5-10 KiB, far more than the
  # 64 KiB left beside the program's own 192 KiB file.
  HEAPPROFILE=$W/mnt/p HEAP_PROFILE_ALLOCATION_INTERVAL=2097152 \
    run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" dumps "$W/mnt" >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show err.txt; fail "exit status $rc"; }
  [ "$(wc -l <err.txt)" = 1 ] || { show err.txt; fail "expected exactly one line"; }
  grep -q "^heapscope: cannot write heap profile $W/mnt/p\.[0-9]*\.heap: No space left on device (partial file removed); profiling continues without dumps" \
    err.txt || { show err.txt; fail "no disk-full line"; }
  n=0
  for f in mnt/p.*.heap; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    grep -q '^MAPPED_LIBRARIES:' "$f" || fail "$f is incomplete"
  done
  [ "$n" -ge 1 ] || fail "no complete dump before the disk filled"
  [ "$(cat mnt/out.txt)" = "output done" ] || fail "the program's own output was lost"
  note "$n complete dumps, then one line; the program's output kept"
  ;;

dump_quiet)
  HEAPPROFILE=$W/q run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" quiet >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show err.txt; fail "exit status $rc"; }
  [ -f q.0001.heap ] || fail "no exit dump"
  [ ! -s err.txt ] || { show err.txt; fail "stderr not empty without HEAPSCOPE_VERBOSE"; }
  rm -f q.*
  HEAPSCOPE_VERBOSE=1 HEAPPROFILE=$W/q run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" quiet >out.txt 2>err.txt
  [ "$(cat err.txt)" = "heapscope: dumping heap profile to $W/q.0001.heap (exiting)" ] ||
    { show err.txt; fail "HEAPSCOPE_VERBOSE=1: expected the progress line"; }
  ;;

suppressions_bad)
  mkdir supp.d
  printf 'leak:one\0leak:leak_one\n' >supp.nul
  for f in supp.d supp.nul; do
    HEAPCHECK=normal HEAPSCOPE_SUPPRESSIONS=$W/$f run 60 env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_output" leak \
      >out.txt 2>err.txt
    [ "$rc" = 1 ] || { show err.txt; fail "$f: exit status $rc, expected 1 (leak not suppressed)"; }
    [ "$(count_lines err.txt '^heapscope: ')" = 1 ] || { show err.txt; fail "$f: expected one line"; }
    case $f in
    supp.d) want="^heapscope: suppressions file $W/supp.d (HEAPSCOPE_SUPPRESSIONS) is a directory; no suppressions from it" ;;
    supp.nul) want="^heapscope: suppressions file $W/supp.nul (HEAPSCOPE_SUPPRESSIONS) holds a NUL byte at offset 8: not a text file; no suppressions from it" ;;
    esac
    grep -q "$want" err.txt || { show err.txt; fail "$f: not rejected clearly"; }
  done
  ;;

soak)
  # The short version of bench/run-soak.sh: 15 s of everything at once.
  HEAPCHECK=normal HEAPPROFILE=$W/p HEAPSCOPE_CHECK_CHILDREN=1 \
    run 100 "$HS_BIN/rel_soak" 15 4 >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^SOAK .* result=ok$' out.txt || { show out.txt err.txt; fail "no ok line"; }
  [ ! -s err.txt ] || { show err.txt; fail "unexpected stderr"; }
  note "$(cat out.txt)"
  rm -f p.* p_*
  ;;

threads_libunwind)
  # Short-lived threads recorded with libunwind (HEAPSCOPE_UNWINDER=libunwind,
  # or the CFI walker's fallback) must not each build unw_backtrace's 256 KiB
  # trace cache: one mapping per thread made 10,000 threads 20x slower.
  # Counted, not timed: a thread's mappings under strace.
  command -v strace >/dev/null || skip "strace not installed"
  HEAPCHECK=normal HEAPSCOPE_UNWINDER=libunwind run 100 strace -f -qq -e trace=mmap -o "$W/trace.txt" \
    env LD_PRELOAD="$HS_PRELOAD" "$HS_BIN/rel_threads" libc 200 >out.txt 2>err.txt
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "exit status $rc"; }
  grep -q '^RESULT name=threads_libc .*alloc=libheapscope.so' out.txt || { show out.txt; fail "no result line"; }
  [ ! -s err.txt ] || { show err.txt; fail "unexpected stderr"; }
  n=$(grep -c 'mmap(NULL, .*MAP_ANONYMOUS' "$W/trace.txt" || true)
  note "200 threads allocating in libc: $n anonymous mappings"
  [ "$n" -lt 100 ] || fail "$n anonymous mappings for 200 threads (a mapping per thread)"
  ;;

*) fail "unknown case" ;;
esac
exit 0
