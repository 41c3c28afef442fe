#!/usr/bin/env python3
"""Times whole commands, interleaved: round r runs every command once, in an
order rotated by r (no command always runs first or after the same
neighbour), so machine noise spreads over all of them. Per run: wall time,
CPU time (user + sys of the process and its children, from wait4) and peak
RSS. A run over the time limit is killed and counted as a timeout.

  timeit.py --runs N [--timeout S] [--json OUT] NAME=COMMAND ...

COMMAND is split like a shell does (shlex), stdout and stderr go to
/dev/null. Prints one line per command: medians (and min-max) of wall, CPU
and RSS, or the number of timeouts."""
import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time


def run_once(argv, timeout):
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = start + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            wall = time.monotonic() - start
            code = os.waitstatus_to_exitcode(status)
            return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_kb": ru.ru_maxrss,
                    "exit": code, "timeout": False}
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            return {"wall": timeout, "cpu": None, "rss_kb": None, "exit": None, "timeout": True}
        time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json")
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()
    cmds = []
    for c in a.commands:
        name, _, cmd = c.partition("=")
        cmds.append((name, shlex.split(cmd)))
    res = {name: [] for name, _ in cmds}
    for r in range(a.runs):
        order = cmds[r % len(cmds):] + cmds[:r % len(cmds)]
        for name, argv in order:
            # a command that timed out twice is not tried again
            if sum(x["timeout"] for x in res[name]) >= 2:
                continue
            res[name].append(run_once(argv, a.timeout))
            print("  %-28s run %d: %s" % (name, r + 1, "timeout" if res[name][-1]["timeout"] else
                                           "%.2fs" % res[name][-1]["wall"]), file=sys.stderr)
    out = {}
    for name, _ in cmds:
        ok = [x for x in res[name] if not x["timeout"]]
        d = {"runs": len(res[name]), "timeouts": len(res[name]) - len(ok)}
        if ok:
            for k in ("wall", "cpu", "rss_kb"):
                v = [x[k] for x in ok]
                d[k] = statistics.median(v)
                d[k + "_min"], d[k + "_max"] = min(v), max(v)
            d["exit"] = sorted({x["exit"] for x in ok})
        out[name] = d
        if ok:
            print("%-28s wall %.3f s (%.3f-%.3f)  cpu %.3f s  rss %d MB  runs %d%s" % (
                name, d["wall"], d["wall_min"], d["wall_max"], d["cpu"], d["rss_kb"] // 1024,
                d["runs"], ", %d timeouts" % d["timeouts"] if d["timeouts"] else ""))
        else:
            print("%-28s all %d runs timed out (> %.0f s)" % (name, d["runs"], a.timeout))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
