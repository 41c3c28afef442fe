#!/usr/bin/env python3
"""What gperftools' MallocHook costs on the allocation path (issue 15).

  bench/hooks/run.py [--lib build/lib/libheapscope.so] [--base OLD.so] [--rounds 7]

Runs bench/hooks/hookbench.c (malloc/free pairs of small mixed sizes) under
glibc, heapscope and gperftools' tcmalloc (libtcmalloc.so.4, which has
MallocHook), each with no hook and with a new and a delete hook installed;
--base adds another heapscope library (e.g. one built before hooks existed)
with no hook. Configurations run interleaved, in an order that shifts every
round; medians of the rounds, and each ratio as the median of per-round
ratios. Then instructions per pair under callgrind (Ir of a run with 2N
pairs minus a run with N, over N: start-up cancels), which does not depend
on the machine's load. Prints Markdown."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--lib", default=os.path.join(ROOT, "build", "lib", "libheapscope.so"))
ap.add_argument("--base", help="another libheapscope.so to compare, no hook")
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--pairs", type=int, default=20_000_000)
ap.add_argument("--cg-pairs", type=int, default=200_000)
args = ap.parse_args()

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"
work = tempfile.mkdtemp(prefix="hookbench.")
exe = os.path.join(work, "hookbench")
subprocess.run(["gcc", "-O2", "-fno-builtin-malloc", "-fno-builtin-free", "-o", exe,
                os.path.join(ROOT, "bench", "hooks", "hookbench.c"), "-ldl"], check=True)

configs = [("glibc", None, "none"), ("heapscope", args.lib, "none"), ("heapscope", args.lib, "hook")]
if args.base:
    configs.insert(1, ("heapscope-base", args.base, "none"))
if os.path.exists(TCMALLOC):
    configs += [("tcmalloc", TCMALLOC, "none"), ("tcmalloc", TCMALLOC, "hook")]
else:
    print(f"note: {TCMALLOC} missing (apt-get install libgoogle-perftools4): no gperftools figures")


def env_for(lib):
    env = {k: v for k, v in os.environ.items()
           if not re.match(r"(HEAP|TCMALLOC_|HEAPSCOPE_|CPUPROF|LD_PRELOAD)", k)}
    if lib:
        env["LD_PRELOAD"] = lib
    return env


def expect_owner(name, lib, out):
    owner = re.search(r"alloc=(\S+)", out).group(1)
    want = os.path.basename(lib) if lib else "libc.so.6"
    if not owner.startswith(want.split(".so")[0]):
        sys.exit(f"{name}: malloc is {owner}, expected {want} (the preload failed)")


def run(cfg, pairs, tool=None):
    name, lib, mode = cfg
    cmd = [exe, mode, str(pairs)]
    if tool:
        cmd = tool + cmd
    r = subprocess.run(cmd, env=env_for(lib), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name} {mode}: exit {r.returncode}\n{r.stderr}")
    expect_owner(name, lib, r.stdout)
    m = re.search(r"ns_per_pair=([\d.]+) cpu_ns_per_pair=([\d.]+) hook_calls=(\d+)", r.stdout)
    calls = int(m.group(3))
    if (mode == "hook") != (calls >= 2 * pairs):
        sys.exit(f"{name} {mode}: {calls} hook calls for {pairs} pairs")
    return float(m.group(1)), float(m.group(2)), r


times = {c: [] for c in configs}
for rnd in range(args.rounds):
    order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
    for c in order:
        times[c].append(run(c, args.pairs)[:2])
label = {c: f"{c[0]} {'no hook' if c[2] == 'none' else 'new+delete hooks'}" for c in configs}
ref = ("heapscope", args.lib, "none")
print(f"## MallocHook cost: {args.pairs:,} malloc/free pairs, {args.rounds} interleaved rounds\n")
print(f"load average before: {open('/proc/loadavg').read().split()[0]}\n")
print("| configuration | ns/pair (wall, median) | CPU ns/pair (median) | CPU vs heapscope no hook (median of per-round ratios) |")
print("|---|---|---|---|")
for c in configs:
    wall = statistics.median(t[0] for t in times[c])
    cpu = statistics.median(t[1] for t in times[c])
    ratio = statistics.median(a[1] / b[1] for a, b in zip(times[c], times[ref]))
    print(f"| {label[c]} | {wall:.2f} | {cpu:.2f} | {ratio:.3f} |")

vg = shutil.which("valgrind")
if vg:
    print("\n## Instructions per malloc/free pair (callgrind)\n")
    print("| configuration | Ir/pair |")
    print("|---|---|")
    for c in configs:
        irs = []
        for n in (args.cg_pairs, 2 * args.cg_pairs):
            out = os.path.join(work, "cg.out")
            run(c, n, [vg, "--tool=callgrind", "--callgrind-out-file=" + out])
            summary = [l for l in open(out) if l.startswith(("summary:", "totals:"))]
            irs.append(int(summary[-1].split()[1]))
        print(f"| {label[c]} | {(irs[1] - irs[0]) / args.cg_pairs:.1f} |")
else:
    print("\nnote: valgrind missing: no instruction counts")
shutil.rmtree(work, ignore_errors=True)
