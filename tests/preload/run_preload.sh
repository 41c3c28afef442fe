#!/bin/sh
# Runs a real program twice, plain and with LD_PRELOAD=<libheapscope.so>,
# and requires identical output (after dropping lines that vary by nature).
#   run_preload.sh LIB python|git|cmake
set -eu
lib=$1
what=$2
here=$(cd "$(dirname "$0")" && pwd)
case $lib in
/*) ;;
*) lib=$(pwd)/$lib ;;
esac
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/heapscope-preload.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# An isolated, deterministic environment for the tools.
export HOME="$work/home" LC_ALL=C TZ=UTC
mkdir -p "$HOME"
unset GIT_DIR GIT_WORK_TREE MAKEFLAGS CMAKE_GENERATOR || true

python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

# run MODE OUTFILE: the workload, in a fresh directory that has the same
# path in both runs (paths show up in cmake's output).
run() {
  mode=$1
  out=$2
  rm -rf "$work/w"
  mkdir -p "$work/w"
  if [ "$mode" = preload ]; then
    LD_PRELOAD="$lib" workload >"$out" 2>&1 || { echo "preloaded run failed:"; cat "$out"; exit 1; }
  else
    workload >"$out" 2>&1 || { echo "plain run failed:"; cat "$out"; exit 1; }
  fi
}

case $what in
python)
  workload() {
    "$python" "$here/workload.py"
    "$python" -c 'import sys, json; d = {str(i): list(range(i % 50)) for i in range(50000)}; print(len(json.dumps(d)))'
  }
  # The preloaded interpreter must really allocate through heapscope.
  active=$(LD_PRELOAD="$lib" "$python" "$here/is_active.py")
  echo "$active"
  [ "$active" = "heapscope: active" ] || exit 1
  ;;
git)
  workload() {
    export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.com
    export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=t@example.com
    export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
    cd "$work/w"
    git init -q -b main repo
    cd repo
    git config gc.auto 0
    i=0
    while [ $i -lt 12 ]; do
      seq $((i * 100)) $((i * 100 + 400)) >"file$((i % 5)).txt"
      "$python" -c "import random; r=random.Random($i); print(''.join(r.choice('abc\n') for _ in range(20000)))" >"data$((i % 3)).txt"
      git add -A
      git commit -q -m "commit $i"
      i=$((i + 1))
    done
    git log --stat --format='%H %s'
    git diff HEAD~5 HEAD --stat
    git diff HEAD~3 HEAD -- file1.txt | head -50
    git gc -q --aggressive
    git count-objects -v | grep -v -e size -e prune
    git fsck --full --no-progress 2>&1
    git rev-list --all --objects | sort | git hash-object --stdin
    git blame -s file2.txt | head -20
    git archive --format=tar HEAD | cksum
  }
  ;;
cmake)
  workload() {
    mkdir -p "$work/w/src"
    cd "$work/w/src"
    cat >CMakeLists.txt <<'CM'
cmake_minimum_required(VERSION 3.16)
project(tiny C)
add_library(tinylib STATIC lib.c)
add_executable(tiny main.c)
target_link_libraries(tiny PRIVATE tinylib)
CM
    cat >lib.c <<'C'
#include <stdlib.h>
#include <string.h>
char *tiny_join(const char *a, const char *b) {
  char *r = malloc(strlen(a) + strlen(b) + 1);
  strcpy(r, a);
  strcat(r, b);
  return r;
}
C
    cat >main.c <<'C'
#include <stdio.h>
#include <stdlib.h>
char *tiny_join(const char *a, const char *b);
int main(void) {
  char *s = tiny_join("hello, ", "world");
  puts(s);
  free(s);
  return 0;
}
C
    cat >script.cmake <<'CM'
set(items)
foreach(i RANGE 2000)
  math(EXPR v "(${i} * 7919) % 1009")
  list(APPEND items "item-${v}")
endforeach()
list(SORT items)
list(REMOVE_DUPLICATES items)
list(LENGTH items n)
string(JOIN "," joined ${items})
string(SHA256 h "${joined}")
string(REGEX MATCHALL "item-[0-9]*7," sevens "${joined}")
list(LENGTH sevens n7)
file(WRITE "${CMAKE_CURRENT_LIST_DIR}/out.txt" "${joined}")
file(READ "${CMAKE_CURRENT_LIST_DIR}/out.txt" back)
string(LENGTH "${back}" len)
message("items ${n} sevens ${n7} length ${len} sha ${h}")
CM
    cmake -P script.cmake
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
    cmake --build build --parallel 1
    ./build/tiny
  }
  ;;
*)
  echo "unknown workload $what"
  exit 2
  ;;
esac

# A machine without the tool skips the test (ctest SKIP_RETURN_CODE 77).
case $what in python) tool=$python ;; *) tool=$what ;; esac
command -v "$tool" >/dev/null 2>&1 || { echo "$tool not installed: skipped"; exit 77; }
if [ "$what" = git ] || [ "$what" = cmake ]; then
  command -v "$python" >/dev/null 2>&1 || { echo "python3 not installed: skipped"; exit 77; }
fi
if [ "$what" = cmake ]; then
  command -v ninja >/dev/null 2>&1 && command -v cc >/dev/null 2>&1 ||
    { echo "ninja or cc not installed: skipped"; exit 77; }
fi

# The tool's malloc calls must bind to heapscope (not a static or setuid
# binary that ignores LD_PRELOAD).
if ! LD_DEBUG=bindings LD_PRELOAD="$lib" "$tool" --version 2>&1 |
  grep -q "libheapscope[^ ]* \[0\]: normal symbol .malloc'"; then
  echo "$tool does not bind malloc to $lib"
  exit 1
fi

run plain "$work/plain.out"
run preload "$work/preload.out"
# Lines that legitimately differ between runs (timings).
filter() { grep -v -E '(elapsed|[0-9]+\.[0-9]+ ?s(ec)?\b|Configuring done \(|Generating done \()' "$1" || true; }
filter "$work/plain.out" >"$work/plain.f"
filter "$work/preload.out" >"$work/preload.f"
if ! cmp -s "$work/plain.f" "$work/preload.f"; then
  echo "output differs with heapscope preloaded:"
  diff -u "$work/plain.f" "$work/preload.f" | head -60
  exit 1
fi
lines=$(wc -l <"$work/plain.f")
[ "$lines" -gt 3 ] || { echo "suspiciously little output:"; cat "$work/plain.out"; exit 1; }
echo "$what: $lines lines of output identical with heapscope preloaded"
