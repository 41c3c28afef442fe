#!/usr/bin/env bash
# Secure execution: a setuid-root program linked with heapscope (shared or
# static), run by an unprivileged user, must ignore every variable the
# runtime reads: no file of the caller's choosing read or written as root.
#   run_secure.sh PROGRAM
# Exit 77 (skipped) when not run as root or without setpriv.
set -u
prog=$1
[ "$(id -u)" = 0 ] || { echo "skipped: needs root to make a setuid binary"; exit 77; }
command -v setpriv >/dev/null || { echo "skipped: setpriv not installed"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

work=$(mktemp -d /tmp/heapscope-secure.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
out=$work/out            # root-only: nobody cannot write here, root can
mkdir -m 700 "$out"
cp "$prog" "$work/prog"
chown root:root "$work/prog"

vars=(HEAPCHECK=normal HEAPSCOPE_SUPPRESSIONS=/etc/shadow
      HEAPSCOPE_LOG_PATH=$out/log HEAPSCOPE_REPORT=json
      HEAPSCOPE_REPORT_PATH=$out/report.json HEAPPROFILE=$out/prof
      HEAPSCOPE_LEAK_PROFILE=$out/leak.prof LSAN_OPTIONS=log_path=$out/lsan
      CPUPROFILE=$out/cpu.prof HEAPSCOPE_TEST_STATS=$out/stats.json
      HEAPSCOPE_EXIT_CODE=23)

# Control: not setuid, the same variables are obeyed (so the check below
# would see a runtime that obeyed them).
chmod 755 "$work/prog"
env "${vars[@]}" "$work/prog" >"$work/control.out" 2>"$work/control.err"
status=$?
[ $status = 23 ] || fail "control run: exit $status, expected 23 (leak found)"
[ -n "$(ls -A "$out")" ] || fail "control run wrote no output files"
# Variables added by later features (the CPU profiler) reach the same table.
[ -e "$out/cpu.prof" ] || fail "control run wrote no CPU profile"
rm -rf "${out:?}"/*

# Setuid root, run as nobody.
chmod 4755 "$work/prog"
env "${vars[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups \
  "$work/prog" >"$work/secure.out" 2>"$work/secure.err"
status=$?
cat "$work/secure.err"
[ $status = 0 ] || fail "setuid run: exit $status, expected 0 (no check: HEAPCHECK ignored)"
grep -q "secure_prog done" "$work/secure.out" || fail "setuid run: program output missing"
left=$(ls -A "$out")
[ -z "$left" ] || fail "setuid run created files from the caller's variables: $left"
n=$(grep -c "^heapscope: setuid/setgid process: environment variables ignored" "$work/secure.err")
[ "$n" = 1 ] || fail "expected the 'ignored' line once, got $n"
while IFS= read -r line; do
  [ -n "$line" ] && grep -qF -- "$line" "$work/secure.err" && fail "/etc/shadow content on stderr"
done < <(cut -d: -f1,2 /etc/shadow)
grep -v "^heapscope: setuid/setgid process" "$work/secure.err" | grep -q . &&
  fail "unexpected stderr in the setuid run"

# Nothing set: nothing said.
env -i setpriv --reuid=nobody --regid=nogroup --clear-groups "$work/prog" \
  >/dev/null 2>"$work/quiet.err"
[ -s "$work/quiet.err" ] && fail "setuid run without variables printed: $(cat "$work/quiet.err")"
echo "PASS"
