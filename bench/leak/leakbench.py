#!/usr/bin/env python3
"""Driver for bench/run-leak.sh: runs the leak-check benchmarks and prints
Markdown tables. Not meant to be run by hand (run-leak.sh builds the
binaries and passes their paths); see bench/leak/README.md."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

SCRUB = ("HEAPCHECK", "HEAPPROFILE", "LD_PRELOAD", "LSAN_OPTIONS", "ASAN_OPTIONS", "PPROF_PATH")


def log(msg):
    print("[bench-leak] " + msg, file=sys.stderr, flush=True)


def base_env():
    return {k: v for k, v in os.environ.items()
            if k not in SCRUB and not k.startswith("HEAPSCOPE_") and not k.startswith("HEAP_CHECK")}


def run(argv, env_extra, timeout, time_bin):
    """Runs argv under /usr/bin/time; returns dict(wall, rss_kib, rc, out, err, end_ns)."""
    env = base_env()
    env.update(env_extra)
    with tempfile.NamedTemporaryFile(prefix="leakbench-time-", delete=False) as tf:
        tpath = tf.name
    cmd = ([time_bin, "-f", "%M %U %S", "-o", tpath] if time_bin else []) + argv
    t0 = time.monotonic_ns()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                           errors="replace")
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", "", ""
    t1 = time.monotonic_ns()
    rss = cpu = None
    try:
        with open(tpath) as f:
            lines = [l.split() for l in f.read().splitlines()]
            lines = [l for l in lines if len(l) == 3 and l[0].isdigit()]
            if lines:
                rss = int(lines[-1][0])
                cpu = float(lines[-1][1]) + float(lines[-1][2])
    except (OSError, ValueError):
        pass
    os.unlink(tpath)
    m = re.search(r"main_end_ns=(\d+)", out)
    end_ns = int(m.group(1)) if m else None
    return dict(wall=(t1 - t0) / 1e9, cpu=cpu, rss_kib=rss, rc=rc, out=out, err=err,
                exit_s=(t1 - end_ns) / 1e9 if end_ns else None)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def paired(results, key, base_key, field):
    """Median over rounds of (key's run / base_key's run of the same round):
    both ran back to back, so a machine that speeds up or slows down between
    rounds moves both."""
    a, b = results.get(key, []), results.get(base_key, [])
    ratios = [x[field] / y[field] for x, y in zip(a, b) if x.get(field) and y.get(field)]
    return statistics.median(ratios) if ratios else None


def fmt_s(x, nd=2):
    return "n/a" if x is None else "%.*f" % (nd, x)


# ---- workload: tools -------------------------------------------------------------------------
def workload_tools(a):
    """(key, label, argv-builder(tests), env, verify(run) -> problem or None)."""
    tools = []
    wl, wl_lsan = a.workload, a.workload_lsan

    def args(exe, tests, threads):
        return [exe, str(tests), str(a.ops), str(threads)]

    def no_report(r):
        if r["rc"] != 0:
            return "exit status %s" % r["rc"]
        if re.search(r"(Direct|Indirect) leak of|detected memory leaks|definitely lost: [1-9]",
                     r["err"]):
            return "leak report on a clean program"
        return None

    tools.append(("glibc", "plain glibc malloc", lambda t, th: args(wl, t, th), {}, no_report))
    tools.append(("hs", "heapscope, no HEAPCHECK", lambda t, th: args(wl, t, th),
                  {"LD_PRELOAD": a.heapscope}, no_report))
    tools.append(("hs_check", "heapscope, HEAPCHECK=normal", lambda t, th: args(wl, t, th),
                  {"LD_PRELOAD": a.heapscope, "HEAPCHECK": "normal"}, no_report))
    if wl_lsan:
        tools.append(("lsan", "LeakSanitizer (%s -fsanitize=leak)" % a.lsan_cc,
                      lambda t, th: args(wl_lsan, t, th), {}, no_report))
    if a.tcmalloc:
        def gperf_ok(r):
            if r["rc"] != 0:
                return "exit status %s" % r["rc"]
            if "No leaks found" not in r["err"]:
                return "no 'No leaks found' line"
            return None
        env = {"LD_PRELOAD": a.tcmalloc, "HEAPCHECK": "normal"}
        if a.pprof:
            env["PPROF_PATH"] = a.pprof
        tools.append(("gperf", "gperftools heap checker (HEAPCHECK=normal)",
                      lambda t, th: args(wl, t, th), env, gperf_ok))
    if a.valgrind:
        tools.append(("valgrind", "Valgrind memcheck --leak-check=full",
                      lambda t, th: [a.valgrind, "--leak-check=full", "--error-exitcode=9", "-q"]
                      + args(wl, t, th), {}, no_report))
    return tools


def bench_workload(a, threads):
    tools = workload_tools(a)
    full = a.tests
    small = max(1, a.tests // a.gperf_scale)
    # (tool key, tests, runs)
    plan = []
    for key, label, argv, env, verify in tools:
        if key == "gperf":
            plan.append((key, small, a.slow_runs))
        elif key == "valgrind":
            plan.append((key, full, a.slow_runs))
        else:
            plan.append((key, full, a.runs))
    if a.tcmalloc and small != full:
        plan.append(("glibc", small, a.runs))
    by_key = {t[0]: t for t in tools}
    results = {}
    rounds = max(p[2] for p in plan)
    for rnd in range(rounds):
        order = plan[rnd % len(plan):] + plan[:rnd % len(plan)]
        for key, tests, runs in order:
            if rnd >= runs:
                continue
            _, label, argv, env, verify = by_key[key]
            log("workload threads=%d %s tests=%d round %d/%d" % (threads, key, tests, rnd + 1, runs))
            r = run(argv(tests, threads), env, a.timeout, a.time_bin)
            r["problem"] = verify(r)
            if r["problem"]:
                log("  problem: %s\n%s" % (r["problem"], r["err"][-2000:]))
            results.setdefault((key, tests), []).append(r)
    return tools, results, full, small


def table_workload(a, threads, tools, results, full, small):
    g_full = median([r["wall"] for r in results.get(("glibc", full), [])])
    g_small = median([r["wall"] for r in results.get(("glibc", small), [])])
    lines = []
    allocs = full * a.ops
    lines.append("### Workload: %.1f M allocations (16..512 B, stacks 8..30 deep), %d thread(s), "
                 "everything freed" % (allocs / 1e6, threads))
    lines.append("")
    lines.append("| tool | runs | median wall (s) | vs glibc (wall) | vs glibc (CPU) | exit time (s) | "
                 "peak RSS (MiB) | false reports |")
    lines.append("|---|---|---|---|---|---|---|---|")
    notes = []
    for key, label, *_ in tools:
        tests = small if key == "gperf" else full
        rs = results.get((key, tests), [])
        if not rs:
            continue
        w = median([r["wall"] for r in rs])
        ratio = paired(results, (key, tests), ("glibc", tests), "wall")
        cratio = paired(results, (key, tests), ("glibc", tests), "cpu")
        ex = median([r["exit_s"] for r in rs])
        rss = median([r["rss_kib"] for r in rs])
        probs = [r["problem"] for r in rs if r["problem"]]
        lab = label
        if tests != full:
            lab += " †"
        wtxt = fmt_s(w)
        if tests != full and ratio and g_full:
            wtxt += " (est. %s at full size)" % fmt_s(ratio * g_full, 0)
        lines.append("| %s | %d | %s | %sx | %sx | %s | %s | %s |" % (
            lab, len(rs), wtxt, fmt_s(ratio, 2), fmt_s(cratio, 2), fmt_s(ex, 2),
            fmt_s(rss / 1024 if rss else None, 0), "; ".join(sorted(set(probs))) or "0"))
    if a.tcmalloc and small != full:
        notes.append("† run at 1/%d size (%d tests, %.2f M allocations) and compared with glibc at "
                     "that size (glibc median %s s); \"est.\" = that ratio x glibc's full-size "
                     "median." % (a.gperf_scale, small, small * a.ops / 1e6, fmt_s(g_small)))
    notes.append("vs glibc = median over rounds of the ratio to plain glibc's run in the same "
                 "round (paired: each round runs every tool back to back, in rotating order); "
                 "CPU = user + system time from /usr/bin/time.")
    notes.append("exit time = from the end of main (the program prints CLOCK_MONOTONIC) to the end "
                 "of the process: the exit-time leak check, any report or sleep, and process teardown.")
    return lines + [""] + ["- " + n for n in notes]


# ---- the workload built -O2 without frame pointers --------------------------------------------
def bench_workload_o2(a):
    """HEAPCHECK=normal on the workload built as CMake's Release/RelWithDebInfo build test
    suites (-O2, no frame pointers), against glibc and LeakSanitizer (clang -fsanitize=leak,
    with its default fast unwinder and with fast_unwind_on_malloc=0), paired per round."""
    def no_report(r):
        if r["rc"] != 0:
            return "exit status %s" % r["rc"]
        if re.search(r"(Direct|Indirect) leak of|detected memory leaks", r["err"]):
            return "leak report on a clean program"
        return None
    args = lambda exe: [exe, str(a.tests), str(a.ops), "1"]
    tools = [("glibc", "plain glibc malloc", args(a.workload_o2), {}),
             ("hs_check", "heapscope, HEAPCHECK=normal", args(a.workload_o2),
              {"LD_PRELOAD": a.heapscope, "HEAPCHECK": "normal"})]
    if a.workload_o2_lsan:
        tools.append(("lsan", "LeakSanitizer (clang -fsanitize=leak, default)",
                      args(a.workload_o2_lsan), {}))
        tools.append(("lsan_slow", "LeakSanitizer, fast_unwind_on_malloc=0",
                      args(a.workload_o2_lsan), {"LSAN_OPTIONS": "fast_unwind_on_malloc=0"}))
    results = {}
    for rnd in range(a.runs):
        order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]
        for key, label, argv, env in order:
            log("workload -O2 %s round %d/%d" % (key, rnd + 1, a.runs))
            r = run(argv, env, a.timeout, a.time_bin)
            r["problem"] = no_report(r)
            if r["problem"]:
                log("  problem: %s\n%s" % (r["problem"], r["err"][-2000:]))
            results.setdefault(key, []).append(r)
    lines = ["### Workload built -O2 without frame pointers: %.1f M allocations, stacks 8..30 deep"
             % (a.tests * a.ops / 1e6), "",
             "| tool | runs | median wall (s) | vs glibc (wall) | vs glibc (CPU) | peak RSS (MiB) | "
             "false reports |", "|---|---|---|---|---|---|---|"]
    for key, label, *_ in tools:
        rs = results.get(key, [])
        rss = median([r["rss_kib"] for r in rs])
        lines.append("| %s | %d | %s | %sx | %sx | %s | %s |" % (
            label, len(rs), fmt_s(median([r["wall"] for r in rs])),
            fmt_s(paired(results, key, "glibc", "wall")), fmt_s(paired(results, key, "glibc", "cpu")),
            fmt_s(rss / 1024 if rss else None, 0),
            "; ".join(sorted(set(r["problem"] for r in rs if r["problem"]))) or "0"))
    lines += ["", "- Built `%s`; LeakSanitizer's build adds `-fsanitize=leak` (clang). Ratios are "
              "paired per round, as above. LeakSanitizer's default unwinder follows frame "
              "pointers, so here its stacks end at the first frame without one; "
              "`fast_unwind_on_malloc=0` makes it use its DWARF unwinder." % a.o2_flags]
    return lines


# ---- one million leaks -------------------------------------------------------------------------
def bench_million(a):
    tools = [("heapscope (HEAPCHECK=normal)", [a.million], {"LD_PRELOAD": a.heapscope,
                                                           "HEAPCHECK": "normal"}, a.runs,
              r"SUMMARY: heapscope: (\d+) byte\(s\) leaked in (\d+) allocation")]
    if a.million_lsan:
        tools.append(("LeakSanitizer", [a.million_lsan], {}, a.runs,
                      r"SUMMARY: LeakSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation"))
    if a.tcmalloc:
        env = {"LD_PRELOAD": a.tcmalloc, "HEAPCHECK": "normal"}
        if a.pprof:
            env["PPROF_PATH"] = a.pprof
        tools.append(("gperftools heap checker%s" % (" (pprof symbolizes)" if a.pprof else ""),
                      [a.million], env, a.slow_runs,
                      r"detected leaks of (\d+) bytes in (\d+) objects"))
    glibc = []
    for i in range(a.runs):
        glibc.append(run([a.million], {}, a.timeout, a.time_bin))
    g = median([r["wall"] for r in glibc])
    lines = ["### One million 16-byte leaks from one site: find, group, symbolize, report", "",
             "| tool | runs | median total wall (s) | median exit-time check + report (s) | "
             "peak RSS (MiB) | reported objects | exit status |", "|---|---|---|---|---|---|---|",
             "| plain glibc (no checker) | %d | %s | %s | %s | - | %s |" % (
                 len(glibc), fmt_s(g), fmt_s(median([r["exit_s"] for r in glibc]), 3),
                 fmt_s((median([r["rss_kib"] for r in glibc]) or 0) / 1024, 0), glibc[0]["rc"])]
    for label, argv, env, runs, rx in tools:
        rs = []
        for i in range(runs):
            log("million %s run %d/%d" % (label, i + 1, runs))
            rs.append(run(argv, env, a.timeout, a.time_bin))
        objs = []
        for r in rs:
            m = re.search(rx, r["err"])
            objs.append(int(m.group(2)) if m else 0)
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            label, len(rs), fmt_s(median([r["wall"] for r in rs])),
            fmt_s(median([r["exit_s"] for r in rs]), 3),
            fmt_s((median([r["rss_kib"] for r in rs]) or 0) / 1024, 0),
            ", ".join(str(o) for o in sorted(set(objs))),
            ", ".join(str(x) for x in sorted(set(str(r["rc"]) for r in rs)))))
    return lines


# ---- snapshot diff and symbolization ---------------------------------------------------------
def kv(out, name):
    m = re.search(r"^RESULT %s (.*)$" % name, out, re.M)
    if not m:
        return None
    return {k: v for k, v in (t.split("=", 1) for t in m.group(1).split())}


def bench_snapdiff(a):
    rows = []
    for i in range(a.slow_runs):
        log("snapdiff run %d/%d" % (i + 1, a.slow_runs))
        r = run([a.snapdiff, str(a.live_mib), "201"], {"HEAPCHECK": "local"}, a.timeout,
                a.time_bin)
        d = kv(r["out"], "snapdiff")
        if d:
            d["rss"] = r["rss_kib"]
            rows.append(d)
        else:
            log("snapdiff failed: rc=%s\n%s%s" % (r["rc"], r["out"], r["err"]))
    if not rows:
        return ["### Per-test diff with a large live heap", "", "(snapdiff failed)"]
    f = lambda k: median([float(d[k]) for d in rows])
    return ["### Per-test diff (`heapscope_leaks_since`) with %s MiB live (%s objects of 4 KiB)"
            % (rows[0]["live_mib"], rows[0]["objects"]), "",
            "| case | median of %d processes |" % len(rows), "|---|---|",
            "| no new live object: median diff (µs, 201 diffs per process) | %.2f |" % f("clean_us_median"),
            "| no new live object: p90 / max (µs) | %.2f / %.2f |" % (f("clean_us_p90"), f("clean_us_max")),
            "| one new leak: stop the world + mark the whole heap (ms) | %.1f |" % f("one_leak_ms"),
            "| filling the heap (ms, for scale) | %.0f |" % f("fill_ms"),
            "| wrong answers | %d |" % sum(int(d["wrong"]) for d in rows)]


def bench_symtime(a):
    rows = []
    for i in range(a.slow_runs):
        r = run([a.symtime, "20"], {"HEAPCHECK": "local"}, a.timeout, a.time_bin)
        d = kv(r["out"], "symtime")
        if d:
            rows.append(d)
        else:
            log("symtime failed: rc=%s\n%s%s" % (r["rc"], r["out"], r["err"]))
    if not rows:
        return ["### Symbolizing the first report", "", "(symtime failed)"]
    f = lambda k: median([float(d[k]) for d in rows])
    return ["### Symbolizing the first report (in-process, libdw)", "",
            "| measure | median of %d processes |" % len(rows), "|---|---|",
            "| groups / frames in the report | %s / %s |" % (rows[0]["groups"], rows[0]["frames"]),
            "| diff that found them (ms) | %.2f |" % f("diff_ms"),
            "| first `heapscope_leaks_report` (cold: loads DWARF of the program and libc) (ms) | %.1f |" % f("first_report_ms"),
            "| same report again, warm caches (ms) | %.2f |" % f("warm_report_ms"),
            "| report well-formed | %s |" % ("yes" if all(d["ok"] == "1" for d in rows) else "NO")]


def main():
    ap = argparse.ArgumentParser()
    for opt in ("workload", "workload-lsan", "workload-o2", "workload-o2-lsan", "o2-flags",
                "million", "million-lsan", "snapdiff", "symtime",
                "heapscope", "tcmalloc", "valgrind", "pprof", "time-bin", "lsan-cc", "out"):
        ap.add_argument("--" + opt, default="")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--slow-runs", type=int, default=3)
    ap.add_argument("--tests", type=int, default=7000)
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--gperf-scale", type=int, default=10)
    ap.add_argument("--live-mib", type=int, default=1024)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--only", default="workload workload-o2 million snapdiff symtime")
    a = ap.parse_args()
    t0 = time.monotonic()
    out = []
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
    except OSError:
        load = ["?"]
    out.append("## heapscope leak-check benchmark")
    out.append("")
    out.append("%d CPU(s); load average at start %s; wall times are medians of the runs; "
               "peak RSS from /usr/bin/time -f %%M." % (os.cpu_count() or 0, " ".join(load)))
    out.append("")
    only = a.only.split()
    if "workload" in only:
        for th in a.threads.split():
            tools, results, full, small = bench_workload(a, int(th))
            out += table_workload(a, int(th), tools, results, full, small) + [""]
    if "workload-o2" in only and a.workload_o2:
        out += bench_workload_o2(a) + [""]
    if "million" in only:
        out += bench_million(a) + [""]
    if "snapdiff" in only and a.snapdiff:
        out += bench_snapdiff(a) + [""]
    if "symtime" in only and a.symtime:
        out += bench_symtime(a) + [""]
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
    except OSError:
        load = ["?"]
    out.append("Benchmark time %.0f s; load average at end %s." % (time.monotonic() - t0,
                                                                   " ".join(load)))
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "report.md"), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
