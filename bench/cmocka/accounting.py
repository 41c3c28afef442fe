#!/usr/bin/env python3
"""What per-test accounting costs a CMocka suite.

usage: bench/cmocka/accounting.py [--tests N] [--runs R] [--lib LIBHEAPSCOPE]

A suite of N small clean tests (gen_suite.py: each allocates and frees a few
blocks, as a typical unit test does) runs with every test leak-checked
(HEAPCHECK=normal), accounting off (HEAPSCOPE_TEST_ACCOUNTING=0) and on (the
default), and on with a statistics file, a budget and CTest measurements,
the configurations interleaved R times (A B C D A B C D ...). Prints medians
of wall and CPU time (user + system, from wait4) and the extra time per test
against accounting off. Timings on a shared machine are noisy: quote the
medians, and read the CPU column first (it does not count waiting for a
core)."""
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "21")))
    ap.add_argument("--lib", default=os.environ.get("HEAPSCOPE_LIB", ""))
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
        configs = [
            ("accounting off", {"HEAPSCOPE_TEST_ACCOUNTING": "0"}),
            ("accounting on (default)", {}),
            ("on + stats file, budget, measurements",
             {"HEAPSCOPE_TEST_STATS": os.path.join(work, "stats.json"),
              "HEAPSCOPE_TEST_MAX_PEAK": "64M", "HEAPSCOPE_TEST_MEASUREMENTS": "1"}),
            ("no per-test checks (HEAPSCOPE_CMOCKA=off)", {"HEAPSCOPE_CMOCKA": "off"}),
        ]
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
        print(f"| {a.tests} small CMocka tests, HEAPCHECK=normal ({a.runs} interleaved runs, median) "
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
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
