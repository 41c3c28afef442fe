#!/usr/bin/env python3
"""Driver for bench/run-stack.sh: recording cost per malloc+free by unwinder,
stack depth and build (with / without frame pointers). See
bench/stack/README.md; not meant to be run by hand."""
import argparse
import os
import re
import statistics
import subprocess
import sys

UNWINDERS = ("fp", "libunwind", "auto")


def log(msg):
    print("[bench-stack] " + msg, file=sys.stderr, flush=True)


def env_for(extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HEAPCHECK", "HEAPPROFILE", "LD_PRELOAD") and not k.startswith("HEAPSCOPE_")}
    env.update(extra)
    return env


def ns_per_pair(exe, depth, pairs, repeats, extra):
    p = subprocess.run([exe, str(depth), str(pairs), str(repeats)], capture_output=True, text=True,
                       env=env_for(extra), timeout=600)
    m = re.search(r"ns_per_pair=([\d.]+)", p.stdout)
    if not m:
        raise SystemExit("unwbench failed (%s %s): %s%s" % (exe, extra, p.stdout, p.stderr))
    return float(m.group(1))


def frames_recorded(exe, depth, lib, unwinder):
    """Frames in the report of the one block unwbench leaks on purpose."""
    p = subprocess.run([exe, str(depth), "1", "1", "leak"], capture_output=True, text=True,
                       env=env_for({"LD_PRELOAD": lib, "HEAPCHECK": "normal",
                                    "HEAPSCOPE_UNWINDER": unwinder,
                                    "HEAPSCOPE_STACK_DEPTH": "64"}), timeout=120)
    blocks = p.stderr.split("leak of ")
    if len(blocks) < 2:
        return None
    return len(re.findall(r"^    #\d+ ", blocks[1], re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin-fp", required=True)
    ap.add_argument("--bin-nofp", required=True)
    ap.add_argument("--depths", default="5 10 20 30")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=200000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    depths = [int(d) for d in a.depths.split()]
    builds = (("with frame pointers", a.bin_fp), ("without frame pointers (-O2 default)", a.bin_nofp))
    with open("/proc/loadavg") as f:
        load0 = " ".join(f.read().split()[:3])
    out = ["## Recording cost per malloc+free, by unwinder", "",
           "%d CPU(s); load average at start %s. Each cell: median over %d rounds of the "
           "fastest of %d timed loops of %d pairs (thread CPU time), minus the same binary "
           "without recording (heapscope preloaded, no HEAPCHECK) in the same round; the "
           "frames each unwinder recorded for that stack in parentheses (max 64)."
           % (os.cpu_count() or 0, load0, a.runs, a.repeats, a.pairs), ""]
    for title, exe in builds:
        out += ["### Binary built -O2 %s" % title, "",
                "| stack depth | no recording (ns) | fp | libunwind | auto (default) |",
                "|---|---|---|---|---|"]
        for d in depths:
            cfgs = [("plain", {"LD_PRELOAD": a.lib})] + [
                (u, {"LD_PRELOAD": a.lib, "HEAPCHECK": "local", "HEAPSCOPE_UNWINDER": u})
                for u in UNWINDERS]
            costs = {u: [] for u in UNWINDERS}
            plains = []
            for rnd in range(a.runs):
                order = cfgs[rnd % len(cfgs):] + cfgs[:rnd % len(cfgs)]
                got = {}
                for name, extra in order:
                    pairs = a.pairs // 10 if name == "libunwind" else a.pairs
                    got[name] = ns_per_pair(exe, d, pairs, a.repeats, extra)
                plains.append(got["plain"])
                for u in UNWINDERS:
                    costs[u].append(got[u] - got["plain"])
            log("%s depth %d done" % (title, d))
            cells = []
            for u in UNWINDERS:
                fr = frames_recorded(exe, d, a.lib, u)
                cells.append("%.0f ns (%s)" % (statistics.median(costs[u]), fr if fr else "?"))
            out.append("| %d | %.0f | %s |" % (d, statistics.median(plains), " | ".join(cells)))
        out.append("")
    with open("/proc/loadavg") as f:
        out.append("Load average at end %s." % " ".join(f.read().split()[:3]))
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "report.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
