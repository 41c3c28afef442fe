#!/usr/bin/env python3
"""What per-test accounting costs a CMocka suite.

usage: bench/cmocka/accounting.py [--tests N] [--runs R] [--lib LIBHEAPSCOPE]
                                  [--vs-lib OTHER_LIBHEAPSCOPE] [--heapprofile]

A suite of N small clean tests (gen_suite.py: each allocates and frees a few
blocks, as a typical unit test does) runs with every test leak-checked
(HEAPCHECK=normal), accounting off (HEAPSCOPE_TEST_ACCOUNTING=0) and on (the
default), and on with a statistics file, a budget and CTest measurements,
the configurations interleaved R times (A B C D A B C D ...). Prints medians
of wall and CPU time (user + system, from wait4) and the extra time per test
against accounting off. Timings on a shared machine are noisy: quote the
medians, and read the CPU column first (it does not count waiting for a
core). It also prints what one CPU clock read (a system call) costs on this
machine: accounting reads the process's CPU clock twice per test, the floor
of its cost. --vs-lib adds accounting off and on with another build of the
runtime to the interleaving and prints the paired difference of the two
builds with accounting on (before/after a change). --heapprofile takes a heap
profile (HEAPPROFILE) in every configuration: with --vs-lib set to a build
without the per-test heap split, the paired difference is what the split
costs."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_once(exe, env):
    t0 = time.perf_counter()
    p = subprocess.Popen([exe], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, p.returncode


CLOCK_COST_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <time.h>
static uint64_t ns(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
int main(void) {
  enum { N = 20000 };
  volatile uint64_t sink = 0;
  uint64_t t0 = ns(CLOCK_MONOTONIC);
  for (int i = 0; i < N; i++) sink += ns(CLOCK_PROCESS_CPUTIME_ID);
  printf("%.3f\n", (double)(ns(CLOCK_MONOTONIC) - t0) / N / 1000.0);
  return 0;
}
"""


def clock_cost_us(work):
    """Median cost of one CLOCK_PROCESS_CPUTIME_ID read, in us."""
    src, exe = os.path.join(work, "clock_cost.c"), os.path.join(work, "clock_cost")
    with open(src, "w") as f:
        f.write(CLOCK_COST_C)
    subprocess.run(["gcc", "-O2", src, "-o", exe], check=True)
    return statistics.median(float(subprocess.run([exe], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(7))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "21")))
    ap.add_argument("--lib", default=os.environ.get("HEAPSCOPE_LIB", ""))
    ap.add_argument("--vs-lib", help="another libheapscope.so, compared with accounting on")
    ap.add_argument("--heapprofile", action="store_true",
                    help="HEAPPROFILE in every configuration (the per-test heap split's cost)")
    a = ap.parse_args()
    lib = a.lib
    if not lib:
        build = os.path.join(ROOT, "build-bench")
        lib = os.path.join(build, "lib", "libheapscope.so")
        if not os.path.exists(lib):
            subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja",
                            "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
            subprocess.run(["cmake", "--build", build, "--target", "heapscope"], check=True,
                           capture_output=True)
    work = tempfile.mkdtemp()
    try:
        src = os.path.join(work, "suite.c")
        with open(src, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_suite.py"), str(a.tests)],
                           stdout=f, check=True)
        exe = os.path.join(work, "suite")
        subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", src, "-lcmocka", "-o", exe],
                       check=True)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("HEAPSCOPE_", "HEAPCHECK", "CMOCKA_"))}
        base.update({"LD_PRELOAD": lib, "HEAPCHECK": "normal"})
        if a.heapprofile:
            base["HEAPPROFILE"] = os.path.join(work, "heap")
        configs = [
            ("accounting off", {"HEAPSCOPE_TEST_ACCOUNTING": "0"}),
            ("accounting on (default)", {}),
            ("on + stats file, budget, measurements",
             {"HEAPSCOPE_TEST_STATS": os.path.join(work, "stats.json"),
              "HEAPSCOPE_TEST_MAX_PEAK": "64M", "HEAPSCOPE_TEST_MEASUREMENTS": "1"}),
            ("no per-test checks (HEAPSCOPE_CMOCKA=off)", {"HEAPSCOPE_CMOCKA": "off"}),
        ]
        if a.vs_lib:
            configs += [("accounting off, --vs-lib", {"HEAPSCOPE_TEST_ACCOUNTING": "0",
                                                      "LD_PRELOAD": a.vs_lib}),
                        ("accounting on, --vs-lib", {"LD_PRELOAD": a.vs_lib})]
        res = {name: ([], []) for name, _ in configs}
        for name, extra in configs:  # warm-up: page cache, debug info
            run_once(exe, dict(base, **extra))
        for _ in range(a.runs):
            for name, extra in configs:
                wall, cpu, rc = run_once(exe, dict(base, **extra))
                if rc != 0:
                    sys.exit(f"{name}: the suite failed (exit {rc})")
                res[name][0].append(wall)
                res[name][1].append(cpu)
        off_w = statistics.median(res[configs[0][0]][0])
        off_c = statistics.median(res[configs[0][0]][1])
        hp = " + HEAPPROFILE" if a.heapprofile else ""
        print(f"| {a.tests} small CMocka tests, HEAPCHECK=normal{hp} ({a.runs} interleaved runs, median) "
              f"| wall s | CPU s | extra wall per test | extra CPU per test |")
        print("|---|---|---|---|---|")
        for name, _ in configs:
            w = statistics.median(res[name][0])
            c = statistics.median(res[name][1])
            print(f"| {name} | {w:.4f} | {c:.4f} | {(w - off_w) / a.tests * 1e6:+.2f} us "
                  f"| {(c - off_c) / a.tests * 1e6:+.2f} us |")
        # Paired differences (run i of "on" minus run i of "off"): the noise
        # of a shared machine is partly common to neighbouring runs.
        on = configs[1][0]
        d = [(x - y) / a.tests * 1e6 for x, y in zip(res[on][1], res[configs[0][0]][1])]
        dw = [(x - y) / a.tests * 1e6 for x, y in zip(res[on][0], res[configs[0][0]][0])]
        print(f"\npaired (on - off), per test: CPU median {statistics.median(d):+.2f} us, "
              f"wall median {statistics.median(dw):+.2f} us")
        if a.vs_lib:
            other = "accounting on, --vs-lib"
            d = [(x - y) / a.tests * 1e6 for x, y in zip(res[on][1], res[other][1])]
            dw = [(x - y) / a.tests * 1e6 for x, y in zip(res[on][0], res[other][0])]
            off2 = "accounting off, --vs-lib"
            d2 = [(x - y) / a.tests * 1e6 for x, y in zip(res[other][1], res[off2][1])]
            print(f"paired (on, --lib - on, --vs-lib), per test: CPU median "
                  f"{statistics.median(d):+.2f} us, wall median {statistics.median(dw):+.2f} us")
            print(f"paired (on - off), --vs-lib, per test: CPU median {statistics.median(d2):+.2f} us")
        print(f"one CPU clock read (CLOCK_PROCESS_CPUTIME_ID, a system call) here: "
              f"{clock_cost_us(work):.2f} us; accounting reads it twice per test")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
