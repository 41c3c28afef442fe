#!/usr/bin/env python3
"""CPU profiler benchmark driver (bench/cpuprof/run.sh builds and calls it).

    cpubench.py --work CPUWORK --heapscope LIB [--gperftools LIB] [--runs N]
                [--cpu-rounds N] [--syscall-rounds N] [--work-nofp CPUWORK] [--out DIR]

For two fixed-work programs (cpu: compute at the bottom of a 30-deep call
chain; syscall: small system calls in a loop; with --work-nofp also the
cpu workload built without frame pointers, which the profilers must
unwind by CFI), runs every configuration
once per round, in an order rotated each round:

    plain        no profiler, nothing preloaded
    hs-off       libheapscope preloaded, CPUPROFILE unset
    hs-100 ...   libheapscope, CPUPROFILE, CPUPROFILE_FREQUENCY=100/1000/4000
    gp-100 ...   gperftools' libprofiler.so, same variables

and reports, per configuration, medians over rounds of:
    overhead     process CPU time (user+system, from wait4) and wall time,
                 each divided by the plain run of the same round
    vs gp        heapscope's CPU time / gperftools' at the same rate (same
                 round)
    accuracy     the profile's total (samples x period) / the process's CPU
                 time; 1.00 is exact
plus the start-up cost of each profiler on a program that does nothing.
"""
import argparse
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

RATES = (100, 1000, 4000)


def profile_seconds(path):
    """Total of a legacy binary CPU profile, in seconds (samples x period)."""
    try:
        data = open(path, "rb").read()
    except OSError:
        return None
    if len(data) < 40:
        return None
    w = lambda i: struct.unpack_from("<Q", data, 8 * i)[0]
    period_us, i, total = w(3), 5, 0
    n = len(data) // 8
    while i + 2 <= n:
        count, depth = w(i), w(i + 1)
        if depth == 0 or i + 2 + depth > n:
            break
        if count == 0 and depth == 1 and w(i + 2) == 0:
            break
        total += count
        i += 2 + depth
    return total * period_us / 1e6


TIME = "/usr/bin/time"


def run_once(cmd, env, prof):
    """One run. env: the variables the workload gets on top of the clean
    environment (the profiler's). /usr/bin/time runs without them (it must
    not be profiled itself) and `env` hands them to the workload."""
    if prof:
        for f in os.listdir(os.path.dirname(prof)):
            os.unlink(os.path.join(os.path.dirname(prof), f))
    rss_file = tempfile.mktemp(prefix="cpubench-rss-")
    full = [TIME, "-f", "%M", "-o", rss_file, "env"] + ["%s=%s" % kv for kv in env.items()] + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(full, env=BASE_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("cpubench: %s exited with status %d\n%s" % (" ".join(full), status, err))
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file)
    # Signals handled: heapscope's stop line ("N samples"), gperftools'
    # "PROFILE: interrupts/evictions/bytes = N/..." line.
    m = re.search(r"CPU profile \S+: (\d+) samples", err) or \
        re.search(r"PROFILE: interrupts/evictions/bytes = (\d+)/", err)
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss_kb": rss,
            "prof_s": profile_seconds(prof) if prof else None,
            "signals": int(m.group(1)) if m else None}


BASE_ENV = {k: v for k, v in os.environ.items()
            if not k.startswith(("CPUPROFILE", "HEAPSCOPE_", "HEAP")) and k != "LD_PRELOAD"}


def configs(args, prof):
    out = {"plain": ({}, None), "hs-off": ({"LD_PRELOAD": args.heapscope}, None)}
    for r in RATES:
        out["hs-%d" % r] = ({"LD_PRELOAD": args.heapscope, "CPUPROFILE": prof,
                             "CPUPROFILE_FREQUENCY": str(r)}, prof)
        if args.gperftools:
            out["gp-%d" % r] = ({"LD_PRELOAD": args.gperftools, "CPUPROFILE": prof,
                                 "CPUPROFILE_FREQUENCY": str(r)}, prof)
    return out


def signal_cost(args, cmd, prof, runs, raw, nofp=None):
    """Cost of one sample: wall-clock mode at 4000 Hz really delivers 4000
    signals a second (an hrtimer; CPU-clock timers stop at the kernel tick),
    so (CPU - plain CPU) / signals is each profiler's price per sample.
    nofp: the same program built without frame pointers, in the same
    rounds (its own plain run as the base)."""
    cfgs = {"plain": ({}, None),
            "hs-real4000": ({"LD_PRELOAD": args.heapscope, "CPUPROFILE": prof,
                             "CPUPROFILE_FREQUENCY": "4000", "CPUPROFILE_REALTIME": "1"}, prof)}
    if args.gperftools:
        cfgs["gp-real4000"] = ({"LD_PRELOAD": args.gperftools, "CPUPROFILE": prof,
                                "CPUPROFILE_FREQUENCY": "4000", "CPUPROFILE_REALTIME": "1"}, prof)
    names = [n for n in cfgs if n != "plain"]
    cmds = {n: cmd for n in cfgs}
    if nofp:
        for n in list(cfgs):
            cfgs[n + "-nofp"] = cfgs[n]
            cmds[n + "-nofp"] = [nofp] + cmd[1:]
        names += [n + "-nofp" for n in names]
    res = measure(cmds, cfgs, runs, raw, "signal-cost")
    lines = ["### Cost per sample (wall-clock mode, 4000 Hz, cpu-bound; medians of %d rounds)" % runs,
             "", "| profiler | signals/run | us per sample | projected at 100 Hz | at 250 Hz (HZ) | at 1000 Hz |",
             "|---|---|---|---|---|---|"]
    for name in names:
        plain = res["plain-nofp" if name.endswith("-nofp") else "plain"]
        costs = [(r["cpu"] - p["cpu"]) / r["signals"] for r, p in zip(res[name], plain)
                 if r["signals"]]
        c = med(costs)
        sig = med([r["signals"] for r in res[name]])
        if c is None:
            continue
        lines.append("| %s | %d | %.1f | %.2f%% | %.2f%% | %.1f%% |" % (
            name, sig, c * 1e6, c * 100 * 100, c * 250 * 100, c * 1000 * 100))
    return "\n".join(lines) + "\n"


def measure(cmd, cfgs, runs, raw, label):
    """cmd: one command for every config, or {config: command}."""
    names = list(cfgs)
    results = {n: [] for n in names}
    for rnd in range(runs):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for n in order:
            env, prof = cfgs[n]
            r = run_once(cmd[n] if isinstance(cmd, dict) else cmd, env, prof)
            r["round"] = rnd
            results[n].append(r)
            raw.write("%s\t%s\t%d\t%.4f\t%.4f\t%d\t%s\t%s\n" % (
                label, n, rnd, r["cpu"], r["wall"], r["rss_kb"],
                "" if r["prof_s"] is None else "%.4f" % r["prof_s"],
                "" if r["signals"] is None else r["signals"]))
        print("[bench-cpuprof] %s: round %d/%d" % (label, rnd + 1, runs), file=sys.stderr)
    return results


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec="%.3f"):
    return "-" if x is None else spec % x


def pct(r):
    return "-" if r is None else "%+.1f%%" % ((r - 1) * 100)


def table(label, res, has_gp):
    plain = res["plain"]
    lines = ["### %s (medians of %d rounds; plain: %.3f s CPU, %.3f s wall)" % (
        label, len(plain), med([r["cpu"] for r in plain]), med([r["wall"] for r in plain])), "",
        "| config | CPU s | CPU vs plain | wall vs plain | vs gperftools (CPU) | profile / real CPU |",
        "|---|---|---|---|---|---|"]
    for name, rs in res.items():
        cpu_ratio = med([r["cpu"] / p["cpu"] for r, p in zip(rs, plain)])
        wall_ratio = med([r["wall"] / p["wall"] for r, p in zip(rs, plain)])
        vs = None
        if has_gp and name.startswith("hs-") and name != "hs-off":
            gp = res.get("gp-" + name[3:])
            if gp:
                vs = med([r["cpu"] / g["cpu"] for r, g in zip(rs, gp)])
        acc = med([r["prof_s"] / r["cpu"] for r in rs if r["prof_s"] is not None])
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            name, fmt(med([r["cpu"] for r in rs])), pct(cpu_ratio), pct(wall_ratio),
            fmt(vs), fmt(acc, "%.2f")))
    return "\n".join(lines) + "\n"


def startup(args, cfgs, runs, raw):
    pick = {k: v for k, v in cfgs.items() if k in ("plain", "hs-off", "hs-100", "gp-100")}
    res = measure([args.work, "nothing"], pick, runs, raw, "start")
    lines = ["### Start-up: a program that does nothing (medians of %d rounds)" % runs, "",
             "| config | CPU ms | wall ms | peak RSS MiB |", "|---|---|---|---|"]
    for name, rs in res.items():
        lines.append("| %s | %.1f | %.1f | %.1f |" % (
            name, med([r["cpu"] for r in rs]) * 1e3, med([r["wall"] for r in rs]) * 1e3,
            med([r["rss_kb"] for r in rs]) / 1024))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--heapscope", required=True)
    ap.add_argument("--gperftools")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cpu-rounds", default="170000")
    ap.add_argument("--syscall-rounds", default="250000")
    ap.add_argument("--work-nofp")
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cpubench-")
    cfgs = configs(args, os.path.join(tmp, "p.prof"))
    report = ["## CPU profiler overhead and accuracy", ""]
    with open(os.path.join(args.out, "raw.tsv"), "w") as raw:
        raw.write("workload\tconfig\tround\tcpu_s\twall_s\tmaxrss_kb\tprofile_s\tsignals\n")
        workloads = [("cpu-bound", [args.work, "cpu", args.cpu_rounds]),
                     ("syscall-heavy", [args.work, "syscall", args.syscall_rounds])]
        if args.work_nofp:
            workloads.append(("cpu-bound, no frame pointers",
                              [args.work_nofp, "cpu", args.cpu_rounds]))
        for label, cmd in workloads:
            res = measure(cmd, cfgs, args.runs, raw, label)
            report.append(table(label, res, bool(args.gperftools)))
        report.append(signal_cost(args, [args.work, "cpu", args.cpu_rounds],
                                  os.path.join(tmp, "p.prof"), args.runs, raw, args.work_nofp))
        report.append(startup(args, cfgs, max(args.runs, 10), raw))
    text = "\n".join(report)
    print(text)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
