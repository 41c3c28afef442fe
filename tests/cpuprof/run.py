#!/usr/bin/env python3
"""CPU profiler test driver: runs one case (tests/cpuprof/CMakeLists.txt
registers each as cpuprof.<case>).

Programs burn known amounts of their threads' CPU time and print what they
burned ("measured NAME SECONDS"); profiles are read with cpucheck.py (an
independent reader of the legacy format) and with go tool pprof and
gperftools' perl pprof when installed.

Environment (set by CTest): HS_PRELOAD (libheapscope.so), HS_BIN (test
programs), HS_WORK (scratch), HS_CPUDL (the dlopen test library).
Exit status: 0 pass, 1 fail, 77 skipped (a needed tool is missing).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

CASE = sys.argv[1]
PRELOAD, BIN, WORK = os.environ["HS_PRELOAD"], os.environ["HS_BIN"], os.environ["HS_WORK"]
HERE = os.path.dirname(os.path.abspath(__file__))
W = os.path.join(WORK, CASE)
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
os.chdir(W)

# Runs must not depend on the caller's settings.
BASE_ENV = {k: v for k, v in os.environ.items()
            if not k.startswith(("CPUPROFILE", "HEAPSCOPE_", "HEAP")) and k != "LD_PRELOAD"}
BASE_ENV["PPROF_TMPDIR"] = os.path.join(W, "pprof-tmp")
BASE_ENV.setdefault("HOME", W)


# What the runtime said in each program run so far (its per-process "CPU
# profile PATH: N samples" lines, lost periods): printed with a failure, so
# a rare one can be told apart (no samples taken, or taken and lost) from
# its log alone.
RUNS = []


def fail(msg):
    print("FAIL (%s): %s" % (CASE, msg), file=sys.stderr)
    for args, err in RUNS[-4:]:
        lines = [l for l in err.splitlines() if "heapscope" in l]
        print("[%s] stderr of %s:\n  %s" % (CASE, " ".join(args), "\n  ".join(lines[-20:])),
              file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print("SKIP (%s): %s" % (CASE, msg), file=sys.stderr)
    sys.exit(77)


def note(msg):
    print("[%s] %s" % (CASE, msg), file=sys.stderr)


def prog(name):
    return os.path.join(BIN, name)


def run(args, env=None, preload=True, rc=0, timeout=90):
    e = dict(BASE_ENV)
    e.update(env or {})
    if preload:
        e["LD_PRELOAD"] = PRELOAD
    p = subprocess.run(args, env=e, capture_output=True, text=True, timeout=timeout)
    RUNS.append((list(args), p.stderr))
    if rc is not None and p.returncode != rc:
        fail("%s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s"
             % (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
    return p


def measured(text):
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^measured (\S+) ([\d.]+)$", text, re.M)}


def check(path, live=False, tests=None):
    args = [sys.executable, os.path.join(HERE, "cpucheck.py"), path]
    if live:
        args.append("--live")
    if tests:
        args += ["--tests", tests]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        fail("cpucheck %s: %s%s" % (path, p.stdout, p.stderr))
    return json.loads(p.stdout)


def secs(d, fn, kind="cum"):
    return d[kind].get(fn, 0) * d["period_us"] / 1e6


def tolerance(want, period_s):
    """Per-thread CPU timers count a thread's time to within a period (a
    random first expiry, the rest of the last period) plus a scheduler tick
    (expiries are noticed at ticks); a tick delayed on a loaded machine
    makes one sample carry several periods (its overruns), some of which
    the code before it used; the rest is the thread's own time outside the
    burner."""
    return max(0.08 * want, 4 * max(period_s, 0.004) + 0.01)


def expect_time(what, got, want, period_s):
    tol = tolerance(want, period_s)
    if abs(got - want) > tol:
        fail("%s: %.3f s in the profile, %.3f s measured (tolerance %.3f)" % (what, got, want, tol))
    note("%s: %.3f s in the profile, %.3f s measured" % (what, got, want))


def expect_absent(d, fn, where):
    if d["cum"].get(fn):
        fail("%s holds %s (%d periods)" % (where, fn, d["cum"][fn]))


def heapscope_lines(text):
    return [l for l in text.splitlines() if l.startswith("heapscope: ")]


def one_line(text, regex):
    lines = heapscope_lines(text)
    if len(lines) != 1 or not re.search(regex, lines[0]):
        fail("expected one heapscope: line matching %r, got:\n%s" % (regex, text))
    note("one line: " + lines[0])


def have_go():
    return shutil.which("go") is not None


def have_perl_pprof():
    return shutil.which("google-pprof") is not None


UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9, "min": 60.0}


def go_top(*args, env=None):
    """`go tool pprof -top`: {function: (flat_s, cum_s)}, and the output."""
    e = dict(BASE_ENV)
    e.update(env or {})
    p = subprocess.run(["go", "tool", "pprof", "-top", "-nodefraction=0", "-edgefraction=0",
                        *args], capture_output=True, text=True, env=e, timeout=120)
    if p.returncode != 0:
        fail("go tool pprof %s: %s" % (" ".join(args), p.stderr))
    rows = {}
    row = re.compile(r"^\s*([\d.]+)([a-z\u00b5]*)\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)([a-z\u00b5]*)"
                     r"\s+[\d.]+%\s+(.+)$")
    for line in p.stdout.splitlines():
        m = row.match(line)
        if m:
            rows[m.group(5).strip()] = (float(m.group(1)) * UNITS[m.group(2)],
                                        float(m.group(3)) * UNITS[m.group(4)])
    return rows, p.stdout


def perl_text(binary, profile):
    """gperftools' perl pprof --text: {function: (flat, cum)} in samples."""
    p = subprocess.run(["google-pprof", "--text", "--nodefraction=0", binary, profile],
                       capture_output=True, text=True, env=BASE_ENV, timeout=120)
    if p.returncode != 0:
        fail("google-pprof: %s" % p.stderr)
    rows = {}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0].isdigit() and f[3].isdigit():
            rows[f[5]] = (int(f[0]), int(f[3]))
    m = re.search(r"^Total: (\d+) samples", p.stdout, re.M)
    return rows, (int(m.group(1)) if m else None), p.stdout


def heapscope_report(*args):
    p = subprocess.run([os.environ["HS_CLI"], "report", *args], capture_output=True, text=True,
                       env=BASE_ENV, timeout=120)
    if p.returncode != 0:
        fail("heapscope report %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def pattern_checks(d, m, period_s):
    """The three-thread pattern: each function's time and the shares."""
    for fn in ("fa", "fb", "fc"):
        expect_time(fn, secs(d, fn), m[fn], period_s)
    got = [secs(d, fn) for fn in ("fa", "fb", "fc")]
    want = [m[fn] for fn in ("fa", "fb", "fc")]
    for fn, g, w in zip(("fa", "fb", "fc"), got, want):
        gs, ws = g / sum(got), w / sum(want)
        if abs(gs - ws) > 0.04:
            fail("%s share %.3f, measured %.3f" % (fn, gs, ws))
    note("shares %s (measured %s)" % (" ".join("%.3f" % (g / sum(got)) for g in got),
                                      " ".join("%.3f" % (w / sum(want)) for w in want)))
    total = d["total"] * period_s
    if total > m["process"] + 2 * period_s + 0.01:
        fail("profile total %.3f s exceeds the process's CPU time %.3f s" % (total, m["process"]))
    if total < sum(want) - tolerance(sum(want), period_s):
        fail("profile total %.3f s short of the %.3f s burned" % (total, sum(want)))


def cpu_seconds(pid):
    """utime + stime of a running process, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_spinner(path, extra=None, freq="1000"):
    e = dict(BASE_ENV, LD_PRELOAD=PRELOAD, CPUPROFILE=path, CPUPROFILE_FREQUENCY=freq)
    p = subprocess.Popen([prog("cpu_spin")] + (extra or []), env=e, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        p.kill()
        fail("cpu_spin did not start")
    deadline = time.time() + 60
    while cpu_seconds(p.pid) < 0.4:
        if time.time() > deadline:
            p.kill()
            fail("cpu_spin got no CPU time")
        time.sleep(0.05)
    return p


# ---- cases --------------------------------------------------------------------------------

def case_shares_100():
    p = run([prog("cpu_pattern"), "0.1"], {"CPUPROFILE": W + "/p.prof",
                                           "CPUPROFILE_FREQUENCY": "100"})
    d = check("p.prof")  # compact
    if d["period_us"] != 10000:
        fail("period %d" % d["period_us"])
    pattern_checks(d, measured(p.stdout), 0.01)
    one_line(p.stderr, r"CPU profile .*/p\.prof: \d+ samples, [\d.]+ s of CPU$")


def case_shares_1000_existing_threads():
    # Threads created before ProfilerStart: found in /proc/self/task.
    p = run([prog("cpu_pattern_linked"), "0.1", W + "/p.prof"], {"CPUPROFILE_FREQUENCY": "1000"},
            preload=False)
    d = check("p.prof")
    if d["period_us"] != 1000:
        fail("period %d" % d["period_us"])
    pattern_checks(d, measured(p.stdout), 0.001)


def case_shares_4000():
    # The largest rate: far above the kernel tick (HZ=250 here), each sample
    # weighs its overruns and the totals still hold.
    p = run([prog("cpu_pattern"), "0.1"], {"CPUPROFILE": W + "/p.prof",
                                           "CPUPROFILE_FREQUENCY": "4000"})
    d = check("p.prof")
    if d["period_us"] != 250:
        fail("period %d" % d["period_us"])
    pattern_checks(d, measured(p.stdout), 0.00025)


def case_readers():
    p = run([prog("cpu_pattern"), "0.1"], {"CPUPROFILE": W + "/p.prof",
                                           "CPUPROFILE_FREQUENCY": "100"})
    d = check("p.prof")
    ran = False
    if have_go():
        rows, out = go_top(prog("cpu_pattern"), "p.prof")
        if "Type: cpu" not in out:
            fail("go pprof: not a cpu profile:\n" + out)
        for fn in ("fa", "fb", "fc", "burn_cpu"):
            if fn not in rows or abs(rows[fn][1] - secs(d, fn)) > 0.0011:
                fail("go pprof: %s cum %s, cpucheck %.3f\n%s" % (fn, rows.get(fn), secs(d, fn), out))
        note("go tool pprof: fa fb fc cum %s" % [rows[f][1] for f in ("fa", "fb", "fc")])
        ran = True
    if have_perl_pprof():
        rows, total, out = perl_text(prog("cpu_pattern"), "p.prof")
        if total != d["total"]:
            fail("perl pprof total %s, cpucheck %d\n%s" % (total, d["total"], out))
        for fn in ("fa", "fb", "fc", "burn_cpu", "main"):
            if fn not in rows or rows[fn][1] != d["cum"].get(fn):
                fail("perl pprof: %s %s, cpucheck %s\n%s" % (fn, rows.get(fn), d["cum"].get(fn), out))
        note("google-pprof: total %d, fa fb fc cum %s" % (total, [rows[f][1] for f in ("fa", "fb", "fc")]))
        ran = True
    if not ran:
        skip("neither go tool pprof nor google-pprof installed")


def case_proto():
    if not have_go():
        skip("go tool pprof not installed")
    # A copy of the program, deleted after the run: the profile must name
    # everything without the binary.
    shutil.copy(prog("cpu_pattern"), "copy_of_cpu_pattern")
    # 1000 Hz: the burn loops spend ~5 % of their time in clock_gettime, so
    # at 100 Hz (60 samples) one run in ~20 had no sample there.
    p = run(["./copy_of_cpu_pattern", "0.1"], {"CPUPROFILE": W + "/p.pb.gz",
                                               "CPUPROFILE_FREQUENCY": "1000",
                                               "HEAPSCOPE_PROFILE_FORMAT": "proto"})
    os.unlink("copy_of_cpu_pattern")
    with open("p.pb.gz", "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            fail("not gzip")
    if os.path.exists("p.pb.gz.tests"):
        fail("PATH.tests written next to a proto profile")
    m = measured(p.stdout)
    rows, out = go_top("p.pb.gz", env={"PPROF_BINARY_PATH": "/nonexistent"})
    if "Type: cpu" not in out:
        fail("not a cpu profile:\n" + out)
    for fn in ("fa", "fb", "fc"):
        if fn not in rows:
            fail("%s missing:\n%s" % (fn, out))
        expect_time(fn, rows[fn][1], m[fn], 0.01)
    # go pprof names no libc frame of a legacy profile ([libc.so.6]); ours
    # are symbolized in-process.
    if not any("clock_gettime" in k for k in rows) or "main" not in rows:
        fail("libc's clock_gettime or main not named:\n" + out)
    raw = subprocess.run(["go", "tool", "pprof", "-raw", "p.pb.gz"], capture_output=True,
                         text=True, env=dict(BASE_ENV, PPROF_BINARY_PATH="/nonexistent")).stdout
    bid = subprocess.run(["readelf", "-n", prog("cpu_pattern")], capture_output=True,
                         text=True).stdout
    mb = re.search(r"Build ID: ([0-9a-f]+)", bid)
    if mb and mb.group(1) not in raw:
        fail("the program's build id %s is not in the profile's mappings:\n%s" % (mb.group(1), raw))
    note("self-symbolized; build id present")


def case_sigkill():
    p = start_spinner(W + "/k.prof")
    used = cpu_seconds(p.pid)
    p.send_signal(signal.SIGKILL)
    p.wait()
    d = check("k.prof", live=True)  # what a killed process leaves
    total = d["total"] * d["period_us"] / 1e6
    # Samples written up to the kill: about what the process had used.
    if total < 0.25 or total > used + 0.2:
        fail("%.3f s in the profile, the process had used %.3f s" % (total, used))
    for fn in ("spin_a", "spin_b"):
        if not d["cum"].get(fn):
            fail("%s missing after SIGKILL" % fn)
    note("after SIGKILL: %.3f s of %.3f s used, %d records" % (total, used, d["records"]))
    if have_go():
        rows, out = go_top(prog("cpu_spin"), "k.prof")
        if "spin_a" not in rows or "spin_b" not in rows:
            fail("go pprof cannot read the killed process's profile:\n" + out)
    if have_perl_pprof():
        rows, ptotal, out = perl_text(prog("cpu_spin"), "k.prof")
        if ptotal != d["total"] or "spin_a" not in rows:
            fail("google-pprof reads %s of %d samples:\n%s" % (ptotal, d["total"], out))
    report = heapscope_report("--top", "k.prof")
    if "spin_a" not in report or "spin_b" not in report:
        fail("heapscope report cannot read the killed process's profile:\n" + report)


def case_sigkill_alone():
    # A lone thread at start: the live file is written at start but mapped
    # by the first sample's handler (its first chunk). What the handler
    # writes from then on survives SIGKILL.
    p = start_spinner(W + "/ka.prof", ["alone"])
    used = cpu_seconds(p.pid)
    p.send_signal(signal.SIGKILL)
    p.wait()
    d = check("ka.prof", live=True)
    total = d["total"] * d["period_us"] / 1e6
    if total < 0.25 or total > used + 0.2:
        fail("%.3f s in the profile, the process had used %.3f s" % (total, used))
    if not d["cum"].get("spin_a") or d["cum"].get("spin_b"):
        fail("expected spin_a only: %s" % d["cum"])
    note("after SIGKILL: %.3f s of %.3f s used" % (total, used))


def case_fatal_signal():
    p = start_spinner(W + "/t.prof")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate()
    if p.returncode != -signal.SIGTERM:
        fail("exit %d, expected death by SIGTERM" % p.returncode)
    d = check("t.prof")  # compacted on the way out
    if not d["cum"].get("spin_a") or not d["cum"].get("spin_b"):
        fail("samples missing")
    one_line(err, r"CPU profile .*/t\.prof: \d+ samples, .* written on signal 15 \(SIGTERM\)")


def case_own_term():
    # The program's own SIGTERM handler runs (and _exits): ours stays out.
    p = start_spinner(W + "/t.prof", ["own-term"])
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate()
    if p.returncode != 3 or "own handler" not in out:
        fail("the program's SIGTERM handler did not run (exit %d)" % p.returncode)
    d = check("t.prof", live=True)
    if not d["cum"].get("spin_a"):
        fail("samples missing")
    if heapscope_lines(err):
        fail("unexpected output:\n" + err)


def case_fork():
    p = run([prog("cpu_fork")], {"CPUPROFILE": W + "/f.prof", "CPUPROFILE_FREQUENCY": "100"})
    kids = dict(re.findall(r"^(child\d) (\d+)$", p.stdout, re.M))
    m = {"f_before": 0.1, "f_after": 0.15, "f_child": 0.15, "f_child2": 0.15, "f_exec": 0.3}
    d = check("f.prof")
    expect_time("parent f_before", secs(d, "f_before"), m["f_before"], 0.01)
    expect_time("parent f_after", secs(d, "f_after"), m["f_after"], 0.01)
    for fn in ("f_child", "f_child2", "f_exec"):
        expect_absent(d, fn, "the parent's profile")
    files = {"child1": ("f_child", False), "child2": ("f_child2", True),
             "child3": ("f_exec", False)}
    for kid, (fn, live) in files.items():
        path = "f.prof_%s" % kids[kid]
        if not os.path.exists(path):
            fail("%s (%s) wrote no %s: %s" % (kid, fn, path, os.listdir(".")))
        c = check(path, live=live)  # _exit leaves the live file
        if live:
            # _exit runs nothing of ours: the periods the timer owes since its
            # last delivery (expiries are noticed only at ticks that find the
            # thread running: many periods on a loaded machine) are not settled
            # as exit() settles them. Never more than the time burned.
            got = secs(c, fn)
            if not m[fn] * 0.4 <= got <= m[fn] + tolerance(m[fn], 0.01):
                fail("%s %s: %.3f s in the profile, %.3f s measured" % (kid, fn, got, m[fn]))
            note("%s %s: %.3f s in the profile (after _exit), %.3f s measured" % (kid, fn, got, m[fn]))
        else:
            expect_time("%s %s" % (kid, fn), secs(c, fn), m[fn], 0.01)
        for other in ("f_before", "f_after"):
            expect_absent(c, other, path)
    left = [f for f in os.listdir(".") if "hs-tmp" in f]
    if left:
        fail("temporary files left: %s" % left)


def case_toggle():
    p = run([prog("cpu_toggle")], {"CPUPROFILE": W + "/t.prof",
                                   "CPUPROFILESIGNAL": str(int(signal.SIGUSR2))})
    if os.path.exists("t.prof") or os.path.exists("t.prof.2"):
        fail("files: %s" % os.listdir("."))
    for path, on, off in (("t.prof.0", "f_on1", "f_on2"), ("t.prof.1", "f_on2", "f_on1")):
        d = check(path)
        expect_time("%s %s" % (path, on), secs(d, on), 0.15, 0.01)
        for fn in (off, "f_off1", "f_off2"):
            expect_absent(d, fn, path)
    if len(heapscope_lines(p.stderr)) != 2:
        fail("expected two stop lines:\n" + p.stderr)


def case_api():
    p = run([prog("cpu_api"), W], preload=False)
    d = check("one.prof")
    expect_time("f_one", secs(d, "f_one"), 0.15, 0.01)
    expect_time("f_flushed", secs(d, "f_flushed"), 0.1, 0.01)
    expect_time("f_registered (ProfilerRegisterThread twice)", secs(d, "f_registered"), 0.15, 0.01)
    for fn in ("f_after_stop", "f_kept", "f_filtered_out"):
        expect_absent(d, fn, "one.prof")
    f = check("flushed.prof", live=True)  # taken while profiling went on
    if not f["cum"].get("f_one") or not f["cum"].get("f_flushed"):
        fail("the flushed file does not name f_one and f_flushed: %s" % f["cum"])
    if not any(x.endswith("/cpu_api") for x in f["modules"]):
        fail("the flushed file has no maps for the program: %s" % f["modules"])
    t = check("two.prof")
    expect_time("f_kept", secs(t, "f_kept"), 0.15, 0.01)
    for fn in ("f_filtered_out", "f_one"):
        expect_absent(t, fn, "two.prof (filter_in_thread)")
    if os.path.exists("second.prof"):
        fail("the refused second ProfilerStart created its file")
    lines = heapscope_lines(p.stderr)
    if len(lines) != 2 or not all("CPU profile" in l for l in lines):
        fail("stderr:\n" + p.stderr)


def case_own_sigprof():
    p = run([prog("cpu_ownsig"), "after"], {"CPUPROFILE": W + "/o.prof"})
    if "old_handler default" not in p.stdout:
        fail("the program saw a SIGPROF handler it never set:\n" + p.stdout)
    m = re.search(r"kernel_ticks (\d+) timer_signals (\d+) other (\d+)", p.stdout)
    # About 40 ticks of the program's own 10 ms timer over 0.4 s of CPU;
    # a loaded VM delivers fewer (15 seen at load average 16): at least a few
    # show they still reach the program, none of ours may.
    if not m or int(m.group(2)) or int(m.group(3)) or int(m.group(1)) < 5:
        fail("the program's own SIGPROF accounting was disturbed:\n" + p.stdout)
    note(m.group(0))
    one_line(p.stderr, r"installs its own handler for signal %d \(SIGPROF\)" % signal.SIGPROF)
    check("o.prof")


def case_own_sigprof_before():
    p = run([prog("cpu_ownsig_linked"), "before", W + "/o.prof"], preload=False)
    if "start 0" not in p.stdout or "timer_signals 0" not in p.stdout:
        fail(p.stdout)
    one_line(p.stderr, r"the program handles signal %d \(SIGPROF\) itself; CPU profiler not started"
             % signal.SIGPROF)
    if os.path.exists("o.prof"):
        fail("a profile was written")


def case_timer_signal():
    # The timers on another signal: a program that uses SIGPROF itself is
    # profiled and keeps its own ticks. CPUPROFILE_USE_PID names the file.
    sig = int(signal.SIGRTMIN) + 4
    p = run([prog("cpu_ownsig"), "after"], {"CPUPROFILE": W + "/o.prof", "CPUPROFILE_USE_PID": "1",
                                            "CPUPROFILE_TIMER_SIGNAL": str(sig)})
    m = re.search(r"used ([\d.]+) kernel_ticks (\d+) timer_signals (\d+) other (\d+)", p.stdout)
    if not m or int(m.group(3)) or int(m.group(4)) or int(m.group(2)) < 5:
        fail("the program's own SIGPROF accounting was disturbed:\n" + p.stdout)
    files = [f for f in os.listdir(".") if re.match(r"o\.prof_\d+$", f)]
    if len(files) != 1 or os.path.exists("o.prof"):
        fail("CPUPROFILE_USE_PID: files %s" % os.listdir("."))
    d = check(files[0])
    expect_time("f_own on signal %d" % sig, secs(d, "f_own"), float(m.group(1)), 0.01)
    one_line(p.stderr, r"CPU profile .*/o\.prof_\d+: \d+ samples")


def case_syscalls():
    p = run([prog("cpu_sys")], {"CPUPROFILE": W + "/s.prof", "CPUPROFILE_FREQUENCY": "1000"})
    if "failures 0" not in p.stdout:
        fail(p.stdout)
    d = check("s.prof")
    if not d["cum"].get("busy"):
        fail("the busy threads were not sampled")
    note(p.stdout.strip().splitlines()[-1])


def case_unwritable():
    p = run([prog("cpu_pattern"), "0.02"], {"CPUPROFILE": "/nonexistent/dir/x.prof"})
    if len(measured(p.stdout)) != 4:
        fail("the program's output changed:\n" + p.stdout)
    one_line(p.stderr, r"^heapscope: cannot write CPU profile /nonexistent/dir/x\.prof: "
                       r"No such file or directory; CPU profiler not started$")


def case_full_disk():
    # CPUPROFILE on a full file system (a 16 KiB tmpfs in a private mount
    # namespace): the program runs, the profile holds what fit and stays
    # readable, and the samples that did not fit are counted in one line.
    if os.geteuid() != 0 or not shutil.which("unshare"):
        skip("needs root and unshare to mount a small tmpfs")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        skip("cannot create a mount namespace here")
    os.makedirs("mnt")
    script = ('mount -t tmpfs -o size=16k tmpfs "$1" && env LD_PRELOAD="$3" CPUPROFILE="$1/p.prof" '
              'CPUPROFILE_FREQUENCY=1000 "$2" 0.2; rc=$?; cp "$1/p.prof" "$1/../p.prof"; exit $rc')
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                        W + "/mnt", prog("cpu_pattern"), PRELOAD], env=BASE_ENV,
                       capture_output=True, text=True, timeout=90)
    m = measured(p.stdout)
    if p.returncode != 0 or len(m) != 4:
        fail("exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    lines = heapscope_lines(p.stderr)
    lost = [re.search(r"p\.prof: (\d+) periods of samples lost: the file could not grow: "
                      r"No space left on device$", l) for l in lines]
    lost = [x for x in lost if x]
    if len(lines) != 2 or len(lost) != 1:
        fail("expected a stop line and one lost-samples line:\n" + p.stderr)
    d = check("p.prof")
    kept = d["total"] * 0.001
    burned = m["fa"] + m["fb"] + m["fc"]
    expect_time("kept + lost", kept + int(lost[0].group(1)) * 0.001, burned, 0.001)
    note("%.3f s kept, %s periods lost" % (kept, lost[0].group(1)))


def case_bad_env():
    for value in ("abc", "5000", "0"):
        p = run([prog("cpu_pattern"), "0.02"], {"CPUPROFILE": W + "/b.prof",
                                                "CPUPROFILE_FREQUENCY": value})
        lines = heapscope_lines(p.stderr)
        if len(lines) != 2 or not re.search(
                r"invalid CPUPROFILE_FREQUENCY='%s' \(expected an integer in \[1, 4000\]\); "
                r"using 100" % value, lines[0]):
            fail("CPUPROFILE_FREQUENCY=%s:\n%s" % (value, p.stderr))
        if check("b.prof")["period_us"] != 10000:
            fail("CPUPROFILE_FREQUENCY=%s: not the default period" % value)
    # Accepted without a word (every thread has its own timer anyway).
    p = run([prog("cpu_pattern"), "0.02"], {"CPUPROFILE": W + "/b.prof",
                                            "CPUPROFILE_PER_THREAD_TIMERS": "1"})
    one_line(p.stderr, r"CPU profile .*/b\.prof: \d+ samples")
    check("b.prof")
    # Unset: 100 Hz; the largest, 4000 Hz, taken as given.
    for value, period in ((None, 10000), ("4000", 250), ("1", 1000000)):
        env = {"CPUPROFILE": W + "/b.prof"}
        if value:
            env["CPUPROFILE_FREQUENCY"] = value
        p = run([prog("cpu_pattern"), "0.02"], env)
        if len(heapscope_lines(p.stderr)) != 1 or check("b.prof")["period_us"] != period:
            fail("CPUPROFILE_FREQUENCY=%s: period %d, expected %d\n%s"
                 % (value, check("b.prof")["period_us"], period, p.stderr))
    p = run([prog("cpu_pattern"), "0.02"], {"CPUPROFILESIGNAL": "12"})
    one_line(p.stderr, r"CPUPROFILESIGNAL is set but CPUPROFILE is not; ignored")
    # A bad CPUPROFILESIGNAL is ignored (gperftools aborts): profiling from start.
    p = run([prog("cpu_pattern"), "0.02"], {"CPUPROFILE": W + "/s.prof", "CPUPROFILESIGNAL": "99"})
    lines = heapscope_lines(p.stderr)
    if len(lines) != 2 or "invalid CPUPROFILESIGNAL='99'" not in lines[0]:
        fail("CPUPROFILESIGNAL=99:\n" + p.stderr)
    check("s.prof")


def case_dlclose():
    lib = os.environ["HS_CPUDL"]
    p = run([prog("cpu_dl"), lib], {"CPUPROFILE": W + "/dl.prof"})
    m = measured(p.stdout)
    d = check("dl.prof")
    if not any(x == os.path.realpath(lib) or x == lib for x in d["modules"]):
        fail("the dlclose'd library is not in the maps: %s" % d["modules"])
    expect_time("dl_inner (dlclose'd)", secs(d, "dl_inner"), m["dl_burn"], 0.01)
    expect_time("f_main", secs(d, "f_main"), m["f_main"], 0.01)
    # Loaded after the profile started, the library's samples still carry
    # their whole stacks: its functions, then main.
    expect_time("dl_burn over dl_inner", secs(d, "dl_burn"), m["dl_burn"], 0.01)
    expect_time("main", secs(d, "main"), m["dl_burn"] + m["f_main"], 0.01)
    if have_go():
        run([prog("cpu_dl"), lib], {"CPUPROFILE": W + "/dl.pb.gz", "HEAPSCOPE_PROFILE_FORMAT": "proto"})
        rows, out = go_top("dl.pb.gz")
        if "dl_inner" not in rows or "dl_burn" not in rows:
            fail("proto: the dlclose'd library's functions are not named:\n" + out)


def dlnofp_whole_stacks(env, share, fork=False, leaf_share=None):
    # cpu_dlnofp: a library built without frame pointers, dlopen'ed after
    # the profile started and dlclose'd before it is written; at least
    # `share` of the library's samples keep its frames and their callers in
    # the program, all named after the dlclose. fork: a forked child loads
    # it and burns; its PATH_<pid> is checked.
    lib = os.environ["HS_CPUDL_NOFP"]
    e = {"CPUPROFILE": W + "/dn.prof", "CPUPROFILE_FREQUENCY": "1000"}
    e.update(env)
    p = run([prog("cpu_dlnofp"), lib] + (["fork"] if fork else []), e)
    m = measured(p.stdout)
    path = "dn.prof"
    if fork:
        child = re.search(r"^child (\d+)$", p.stdout, re.M)
        if not child:
            fail("no child pid in the output\n%s" % p.stdout)
        path = "dn.prof_" + child.group(1)
    d = check(path)
    if not any(x == os.path.realpath(lib) or x == lib for x in d["modules"]):
        fail("the dlclose'd library is not in the maps: %s" % d["modules"])
    burned = m["dl_chain"]
    if leaf_share is None:
        expect_time("dlnofp_leaf", secs(d, "dlnofp_leaf"), burned, 0.001)
    elif secs(d, "dlnofp_leaf") < leaf_share * burned:
        fail("dlnofp_leaf: %.3f s in the profile of %.3f s burned: its frame lost"
             % (secs(d, "dlnofp_leaf"), burned))
    for fn in ("dlnofp_mid", "dlnofp_outer", "prog_mid", "prog_outer", "main"):
        if d["cum"].get(fn, 0) < share * d["cum"]["dlnofp_leaf"]:
            fail("%s holds %d of dlnofp_leaf's %d periods: callers lost\n%s"
                 % (fn, d["cum"].get(fn, 0), d["cum"]["dlnofp_leaf"], d["cum"]))
    if leaf_share is None:
        expect_time("main over the library's chain", secs(d, "main"), burned, 0.001)
    elif secs(d, "main") < leaf_share * burned:
        fail("main: %.3f s in the profile of %.3f s burned under it: callers lost"
             % (secs(d, "main"), burned))


def case_dlclose_nofp():
    # The handler learns the library's CFI lock-free (_dl_find_object).
    dlnofp_whole_stacks({}, 0.95)


def case_fallback_nofp():
    # glibc before 2.35 has no _dl_find_object (forced here by the test
    # hook): the start learns the loaded modules and readies their CFI
    # (readlink /proc/self/exe, which a start with _dl_find_object never
    # does: cpuprof.startup_cost) and starts the learner thread (its pipe);
    # a library dlopen'ed later is learned by that thread when a handler
    # first meets its code. The samples taken before it is done (a few ms
    # of a thread waiting for a core) have the frame-pointer walk only.
    hook = {"HEAPSCOPE_TEST_HOOKS": "no-dl-find-object"}
    if shutil.which("strace"):
        out = os.path.join(W, "trace")
        args = ["strace", "-f", "-o", out, "-e", "trace=readlink,pipe2"]
        for k, v in dict(hook, LD_PRELOAD=PRELOAD, CPUPROFILE=W + "/t.prof").items():
            args += ["-E", "%s=%s" % (k, v)]
        run(args + ["/bin/true"], preload=False)
        trace = open(out).read()
        if '"/proc/self/exe"' not in trace or "pipe2(" not in trace:
            fail("the test hook did not select the fallback\n%s" % trace)
    dlnofp_whole_stacks(hook, 0.9)


def case_fallback_nofp_fork():
    # The same in a forked child, which profiles on into PATH_<pid>: the
    # parent's learner thread is not in the child (fork copies the calling
    # thread only), so the child starts its own; without it, the child's
    # samples in the library it loads kept the frame-pointer walk only
    # (its callers lost).
    # The samples taken before the child's learner is done keep the
    # frame-pointer walk (a few ms; up to ~90 ms with HEAPSCOPE_DEBUG=2 on a
    # machine loaded 7 to a core: 0.207 of 0.300 s seen in 80 runs), so the
    # leaf's frame is asked for in half the time burned; without the
    # learner it was in none (3 of 302 periods).
    dlnofp_whole_stacks({"HEAPSCOPE_TEST_HOOKS": "no-dl-find-object"}, 0.9, fork=True,
                        leaf_share=0.5)


def case_startup_cost():
    # What CPUPROFILE costs a process that exits before its first sample
    # (1 Hz: a sample is ~1 in 500 runs, and then the run is redone): the
    # maps not read (a profile without samples names nothing; the first
    # sample reads them), no module learned, no CFI read, the internal heap
    # untouched; at exit the live file is the profile as it is (no second
    # file, no rename, no munmap of the reservation), no chunk was given
    # (one fallocate: the empty profile), the fatal signals taken with one
    # rt_sigaction each (not a query and an install: 32), no unlink of a
    # temporary that is not there. The empty profile is written, not
    # mapped (the 16 GiB reservation is mapped by the first growth, the
    # first sample's), and a lone thread is found with one stat of
    # /proc/self/task, not a listing. The profile is valid and compact.
    if not shutil.which("strace"):
        skip("strace is not installed")
    out = os.path.join(W, "trace")
    for attempt in range(3):
        run(["strace", "-f", "-o", out, "-e",
             "trace=openat,readlink,rename,unlink,rt_sigaction,fallocate,mmap,munmap,newfstatat",
             "-E", "LD_PRELOAD=" + PRELOAD, "-E", "CPUPROFILE=" + W + "/t.prof",
             "-E", "CPUPROFILE_FREQUENCY=1", "/bin/true"], preload=False)
        d = check("t.prof")
        if d["records"] == 0:
            break
        note("a sample was taken (attempt %d): run again" % attempt)
    else:
        fail("/bin/true was sampled at 1 Hz three times in a row")
    trace = open(out).read()
    lines = [l for l in trace.splitlines() if "+++" not in l and "---" not in l]
    def calls(name):
        return [l for l in lines if re.match(r"^\d+\s+%s\(" % name, l)]
    maps = trace.count('"/proc/self/maps"')
    if maps != 0:
        fail("/proc/self/maps opened %d times (the first sample reads it)\n%s" % (maps, trace))
    if '"/proc/self/exe"' in trace:
        fail("the module registry was filled at start (readlink /proc/self/exe)\n%s" % trace)
    renames = calls("rename")
    if len(renames) != 1:
        fail("%d renames (the start's only: nothing to compact at exit)\n%s"
             % (len(renames), "\n".join(renames)))
    tmps = [l for l in calls("openat") if ".hs-tmp." in l]
    if len(tmps) != 1:
        fail("%d temporary files (the live file only)\n%s" % (len(tmps), "\n".join(tmps)))
    falloc = calls("fallocate")
    if len(falloc) != 1:
        fail("%d fallocate (the empty profile only: no chunk before a first sample)\n%s"
             % (len(falloc), "\n".join(falloc)))
    big = [l for l in calls("munmap") if re.search(r", 17179869184\)", l)]
    if big:
        fail("the live file's reservation unmapped at exit\n%s" % "\n".join(big))
    reserve = [l for l in calls("mmap") if re.search(r"^\d+\s+mmap\(NULL, 17179869184,", l)]
    if reserve:
        fail("the live file mapped before a first sample\n%s" % "\n".join(reserve))
    task = [l for l in lines if '"/proc/self/task"' in l]
    if task:
        fail("/proc/self/task: %d uses (glibc's __libc_single_threaded says a lone "
             "thread is alone)\n%s" % (len(task), "\n".join(task)))
    sigs = calls("rt_sigaction")
    if len(sigs) > 20:
        fail("%d rt_sigaction (SIGPROF's query and install, then one per fatal signal)\n%s"
             % (len(sigs), "\n".join(sigs)))
    stale = [l for l in calls("unlink") if ".hs-tmp." in l]
    if stale:
        fail("unlink of a temporary before creating it\n%s" % "\n".join(stale))
    startup_takes_previous()


def startup_takes_previous():
    # The next run on the same PATH, whose previous run recorded nothing,
    # takes that file over (it is exactly the empty profile it would
    # write): no new file, no rename, no block freed (freeing the replaced
    # inode waited for the disk's discard, ~6 ms a start on ext4 mounted
    # discard). A file a live run still writes is never taken over: a
    # sleeping profiled process (no CPU, no sample) keeps its live file
    # flock'ed, and a start beside it replaces PATH as before.
    path = W + "/t.prof"
    ino = os.stat(path).st_ino
    out = os.path.join(W, "trace2")
    for attempt in range(3):
        run(["strace", "-f", "-o", out, "-e", "trace=openat,rename,fallocate,flock,unlink",
             "-E", "LD_PRELOAD=" + PRELOAD, "-E", "CPUPROFILE=" + path,
             "-E", "CPUPROFILE_FREQUENCY=1", "/bin/true"], preload=False)
        d = check("t.prof")
        if d["records"] == 0:
            break
        ino = os.stat(path).st_ino  # sampled: compacted into a new file; again
    trace = open(out).read()
    if os.stat(path).st_ino != ino or re.search(r"^\d+\s+(rename|fallocate)\(", trace, re.M) \
            or ".hs-tmp." in trace:
        fail("the previous run's empty profile was replaced, not taken over\n%s" % trace)
    # 2 Hz: the sleeper is rarely sampled (a sample grows its file, which
    # then is not the empty profile; the take-over is not even tried).
    slow = {"LD_PRELOAD": PRELOAD, "CPUPROFILE": path, "CPUPROFILE_FREQUENCY": "2"}
    sleeper = subprocess.Popen(["sleep", "3"], env=dict(BASE_ENV, **slow),
                               stderr=subprocess.DEVNULL)
    try:
        # Its start replaces PATH (t.prof is not the empty profile its
        # start would write: CPUPROFILE_FREQUENCY differs, so the header).
        deadline = time.time() + 10
        while os.stat(path).st_ino == ino:
            if time.time() > deadline or sleeper.poll() is not None:
                fail("the sleeping profiled process never wrote %s" % path)
            time.sleep(0.01)
        live = os.stat(path).st_ino
        if os.path.getsize(path) != 64:
            note("the sleeper was sampled (its file grew): the take-over was not tried")
        args = ["strace", "-f", "-o", out, "-e", "trace=rename,flock"]
        for k, v in slow.items():
            args += ["-E", "%s=%s" % (k, v)]
        run(args + ["/bin/true"], preload=False)
        trace = open(out).read()
        if os.stat(path).st_ino == live:
            fail("a live run's profile was taken over by another start\n%s" % trace)
    finally:
        sleeper.kill()
        sleeper.wait()


def case_ignored_signals():
    # Signals a program starts with ignored (nohup; a parent's SIG_IGN
    # inherited through exec) stay ignored under CPUPROFILE: a lone thread
    # swaps each fatal signal's disposition for the profiler's handler in
    # one call and must put an ignored one back.
    # The exec'd image (same pid) writes PATH_<pid>, as gperftools 2.18's
    # children do; PATH keeps what the first image recorded before its exec
    # (no stop ran: a live profile when it was sampled, which readers take).
    inner = "kill -HUP $$; kill -PIPE $$; echo alive $$"
    # (The first image burns ~30 ms first, so it is sampled before its exec.)
    burn = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done"
    outer = "trap '' HUP PIPE; %s; exec sh -c '%s'" % (burn, inner)
    p = run(["sh", "-c", outer], {"LD_PRELOAD": PRELOAD, "CPUPROFILE": W + "/i.prof"},
            preload=False)
    words = p.stdout.split()
    if len(words) != 2 or words[0] != "alive":
        fail("an ignored signal ended the profiled program: %r\n%s" % (p.stdout, p.stderr))
    check("i.prof", live=True)
    check("i.prof_" + words[1])


def case_quiet_test():
    # A test whose thread got no sample (the signal blocked here, unseen
    # expiries on a loaded machine) keeps its periods: they are settled at
    # the test's end, not given to the next test's first sample (which then
    # carried both, and the short test showed no sample at all).
    p = run([prog("cpu_quiet_test")], {"CPUPROFILE": W + "/q.prof"}, preload=False)
    m = measured(p.stdout)
    d = check("q.prof", tests="q.prof.tests")
    per = d["period_us"] / 1e6
    tests = d["tests"]
    quiet = tests.get("suite/quiet", {}).get("total", 0) * per
    nxt = tests.get("suite/next", {}).get("total", 0) * per
    expect_time("suite/quiet", quiet, m["quiet"], 0.01)
    expect_time("suite/next", nxt, m["next"], 0.01)
    if tests.get("suite/next", {}).get("cum", {}).get("quiet_burn"):
        fail("quiet_burn's time in suite/next: %s" % tests["suite/next"])


def case_no_frame_pointers():
    # Callers of code built without frame pointers are named (the handler
    # walks by CFI): every sample of the chain holds it whole, up to main
    # or the thread's start routine.
    p = run([prog("cpu_nofp")], {"CPUPROFILE": W + "/n.prof", "CPUPROFILE_FREQUENCY": "1000"})
    m = measured(p.stdout)
    d = check("n.prof")
    burned = m["main_chain"] + m["thread_chain"]
    expect_time("burn_cpu (the leaf)", secs(d, "burn_cpu"), burned, 0.001)
    expect_time("nofp_leaf", secs(d, "nofp_leaf"), burned, 0.001)
    for fn in ("nofp_mid", "nofp_outer"):
        if d["cum"].get(fn, 0) < d["cum"]["nofp_leaf"]:
            fail("%s holds %d of nofp_leaf's %d periods: callers lost\n%s"
                 % (fn, d["cum"].get(fn, 0), d["cum"]["nofp_leaf"], d["cum"]))
    expect_time("main over nofp_outer", secs(d, "main"), m["main_chain"], 0.001)
    expect_time("nofp_thread", secs(d, "nofp_thread"), m["thread_chain"], 0.001)


def case_short_threads():
    # Threads shorter than a period are sampled (random first expiry); a
    # fixed first expiry of one period would give them none. A CPU-clock
    # expiry is seen only at a tick that finds its thread running, so a
    # 4 ms thread with HZ=250 is sampled in f_short about half the times it
    # owes a period (0.45 of the burned time measured); the rest is settled
    # at its exit on its start routine: short_thread holds it all. Which
    # threads owe a period is random (each with p = 0.4): 160 threads make
    # the total's spread ~10 %.
    p = run([prog("cpu_short")], {"CPUPROFILE": W + "/s.prof", "CPUPROFILE_FREQUENCY": "100"})
    m = measured(p.stdout)
    d = check("s.prof")
    got, total = secs(d, "f_short"), secs(d, "short_thread")
    note("160 threads of 4 ms: f_short %.3f s, short_thread %.3f s in the profile, %.3f s burned"
         % (got, total, m["f_short"]))
    # (The lower bound is loose: on a loaded machine fewer ticks find the
    # short threads running; without the random first expiry f_short gets 0.)
    if not 0.1 * m["f_short"] <= got <= 1.1 * m["f_short"]:
        fail("f_short %.3f s in the profile, %.3f s burned" % (got, m["f_short"]))
    if not 0.65 * m["f_short"] <= total <= 1.35 * m["f_short"]:
        fail("short_thread %.3f s in the profile, %.3f s burned" % (total, m["f_short"]))


def case_exit_settle():
    # Threads that exit before ProfilerStop, each burning one period of its
    # CPU: created before ProfilerStart (found in /proc/self/task) and
    # after it. The expiry a thread's timer owes after the last scheduler
    # tick that found it running is never delivered: at 100 Hz about one
    # thread in five loses its only period (HZ=250), at 4000 Hz each loses
    # what it burned after its last tick (~2 of 10 ms). Settling every
    # thread's owed periods at its exit, sampled or not, makes each group
    # whole.
    for freq, period_s in (("100", 0.01), ("4000", 0.00025)):
        prof = "%s/e%s.prof" % (W, freq)
        p = run([prog("cpu_exit"), prof, "%g" % max(period_s, 0.01)],
                {"CPUPROFILE_FREQUENCY": freq}, preload=False)
        m = measured(p.stdout)
        d = check(prof)
        for fn in ("early_thread", "late_thread"):
            got, want = secs(d, fn), m[fn]
            note("%s Hz: %s %.3f s in the profile, %.3f s burned" % (freq, fn, got, want))
            # A period whose tick lands after the burner returned (the
            # thread's exit path) is the thread's but not under its start
            # routine: a thread or three of 40. Without settling at exit
            # early_thread held 0.45-0.80 of its time, late_thread 0.52-0.98.
            if not 0.92 * want <= got <= 1.10 * want:
                fail("%s Hz: 40 threads of one period each: %s %.3f s in the profile, "
                     "%.3f s burned" % (freq, fn, got, want))


def case_thread_frames():
    # Our pthread_create runs every new thread's first instructions (it
    # sets the exit key that settles the thread's CPU time), then jumps to
    # the start routine: no runtime frame stays between it and
    # start_thread. The leak report cuts a stack at the first runtime
    # frame, so one left there would hide start_thread and clone3.
    for env in ({}, {"CPUPROFILE": W + "/t.prof", "CPUPROFILE_FREQUENCY": "1000"}):
        p = run([prog("cpu_thread_leak")], dict(env, HEAPCHECK="normal"), rc=1)
        frames = re.findall(r"^\s+#\d+ 0x[0-9a-f]+ in (\S+)", p.stderr, re.M)
        if frames[:2] != ["leaky_thread", "start_thread"]:
            fail("leak stack %s (CPU profiling %s):\n%s"
                 % (frames, "on" if env else "off", p.stderr))
    note("leak stack: leaky_thread <- start_thread, with and without CPUPROFILE")
    d = check("t.prof")
    ours = [fn for fn in d["cum"] if fn.startswith(("hs__cp_thread", "cpuprof_thread"))]
    if ours:
        fail("the runtime's thread start in the CPU profile: %s" % ours)
    if not d["cum"].get("leaky_thread"):
        fail("no leaky_thread in the CPU profile: %s" % d["cum"])


def case_stacks():
    p = run([prog("cpu_stacks")], {"CPUPROFILE": W + "/s.prof", "CPUPROFILE_FREQUENCY": "4000"})
    if "survived" not in p.stdout:
        fail(p.stdout)
    d = check("s.prof")
    # The thread on its own allocated stack is walked in full (its bounds
    # are known); code on a coroutine's or an alternate signal stack keeps
    # at least its interrupted pc.
    if not d["cum"].get("on_own_stack"):
        fail("on_own_stack not sampled: %s" % d["cum"])
    if d["total"] * d["period_us"] / 1e6 < 0.25:
        fail("the burn loops on other stacks were not sampled: %s" % d["flat"])


def case_realtime():
    p = run([prog("cpu_wall")], {"CPUPROFILE": W + "/w.prof", "CPUPROFILE_REALTIME": "1"})
    d = check("w.prof")
    sleep, burn = secs(d, "f_sleep"), secs(d, "f_burn")
    if not 0.25 <= sleep <= 0.6 or burn < 0.08:
        fail("wall time: f_sleep %.3f s (slept 0.3), f_burn %.3f s (burned 0.1)" % (sleep, burn))
    note("f_sleep %.3f s, f_burn %.3f s" % (sleep, burn))
    one_line(p.stderr, r"s wall-clock$")


def cmocka_run(path, extra=None):
    env = {"CPUPROFILE": path, "CPUPROFILE_FREQUENCY": "100"}
    env.update(extra or {})
    p = run([prog("cpu_cmocka")], env)
    if "[  PASSED  ] 2 test(s)." not in p.stdout + p.stderr:
        fail("the suite did not pass:\n" + p.stdout + p.stderr)
    return p


def case_cmocka_tests():
    cmocka_run(W + "/c.prof")
    d = check("c.prof", tests="c.prof.tests")
    tests = d["tests"]
    if sorted(tests) != ["cpu_suite/test_a", "cpu_suite/test_b"]:
        fail("tests in c.prof.tests: %s" % sorted(tests))
    per = d["period_us"] / 1e6
    a, b = tests["cpu_suite/test_a"], tests["cpu_suite/test_b"]
    expect_time("test_a: fa", a["cum"].get("fa", 0) * per, 0.12, 0.01)
    expect_time("test_b: fb", b["cum"].get("fb", 0) * per, 0.2, 0.01)
    if a["cum"].get("fb") or b["cum"].get("fa"):
        fail("samples in the wrong test")
    for t in (a, b):
        if t["cum"].get("f_group_setup"):
            fail("the group setup's samples carry a test")
    expect_time("main profile: f_group_setup", secs(d, "f_group_setup"), 0.1, 0.01)
    for fn in ("fa", "fb"):
        if secs(d, fn) < 0.05:
            fail("%s missing from the main profile" % fn)
    # The analyzer reads the side file as written (its contract).
    out = heapscope_report("--tests", "c.prof")
    for t in ("cpu_suite/test_a", "cpu_suite/test_b", "(outside tests)"):
        if t not in out:
            fail("heapscope report --tests: %s missing:\n%s" % (t, out))


def case_cmocka_tests_proto():
    if not have_go():
        skip("go tool pprof not installed")
    cmocka_run(W + "/c.pb.gz", {"HEAPSCOPE_PROFILE_FORMAT": "proto"})
    for test, fn, other, want in (("test_a", "fa", "fb", 0.12), ("test_b", "fb", "fa", 0.2)):
        rows, out = go_top("-tagfocus=test=%s" % test, "c.pb.gz")
        if fn not in rows or other in rows or "f_group_setup" in rows:
            fail("-tagfocus=test=%s:\n%s" % (test, out))
        expect_time("%s: %s (label test)" % (test, fn), rows[fn][1], want, 0.01)
    rows, out = go_top("-tagfocus=group=cpu_suite", "c.pb.gz")
    if "fa" not in rows or "fb" not in rows or "f_group_setup" in rows:
        fail("-tagfocus=group=cpu_suite:\n" + out)


def case_cli():
    cli = os.environ["HS_CLI"]
    e = dict(BASE_ENV)
    p = subprocess.run([cli, "profile", "--cpu", "--frequency", "1000", "-o", W + "/c.prof", "--",
                        prog("cpu_pattern"), "0.05"], capture_output=True, text=True, env=e)
    if p.returncode != 0:
        fail("heapscope profile --cpu: exit %d\n%s" % (p.returncode, p.stderr))
    d = check("c.prof")
    if d["period_us"] != 1000 or not d["cum"].get("fc"):
        fail("--frequency 1000: period %d, %s" % (d["period_us"], d["cum"]))
    # The default file: PROGRAM.prof in the current directory.
    p = subprocess.run([cli, "profile", "--cpu", "--", prog("cpu_pattern"), "0.02"],
                       capture_output=True, text=True, env=e)
    if p.returncode != 0 or not os.path.exists("cpu_pattern.prof"):
        fail("default output: exit %d, files %s\n%s" % (p.returncode, os.listdir("."), p.stderr))
    check("cpu_pattern.prof")
    for bad in (["--frequency", "0"], ["--frequency", "x"], ["--format", "xml"]):
        p = subprocess.run([cli, "profile", "--cpu", *bad, "--", prog("cpu_pattern")],
                           capture_output=True, text=True, env=e)
        if p.returncode != 2 or len(heapscope_lines(p.stderr)) != 1:
            fail("%s: exit %d\n%s" % (bad, p.returncode, p.stderr))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail("unknown case")
CASES[CASE]()
print("PASS (%s)" % CASE)
