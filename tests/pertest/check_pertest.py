#!/usr/bin/env python3
"""Per-test figures, budgets and their outputs, on pt_suite.c.

usage: check_pertest.py CASE --exe PT_SUITE --src PT_SUITE_C --work DIR

Each CASE runs the suite under some settings and checks what came out: the
HEAPSCOPE_TEST_STATS document (the contract's field names, each figure
against what the test knows of itself), which tests failed and why (CMocka's
XML output: its verdicts and messages), CMocka's XML properties, CTest
measurements, bad values. Exits 1 with the reasons on a mismatch."""
import glob
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

CONTRACT = ["name", "group", "status", "wall_s", "cpu_s", "allocs", "alloc_bytes", "peak_bytes",
            "leaked_bytes"]
ALL_TESTS = ["test_small", "test_cpu_heavy", "test_memory_heavy", "test_thread", "test_leaks",
             "test_fails", "test_skips", "test_setup_fails", "test_code_peak_over",
             "test_code_peak_under", "test_code_cpu_over", "test_code_budget_off"]
# Fail whatever the environment's budgets: a leak, an assertion, a budget
# set in code.
ALWAYS_FAIL = {"test_leaks", "test_fails", "test_code_peak_over", "test_code_cpu_over"}

from checks import check, clean_env, main


def line_of(src, marker):
    for i, line in enumerate(open(src, encoding="utf-8"), 1):
        if marker in line:
            return i
    raise SystemExit(f"marker {marker!r} not in {src}")


def run(args, env_extra, xml_dir=None):
    env = clean_env(env_extra)
    if xml_dir:
        os.makedirs(xml_dir, exist_ok=True)
        for f in glob.glob(os.path.join(xml_dir, "*.xml")):
            os.remove(f)
        env["CMOCKA_MESSAGE_OUTPUT"] = "xml"
        env["CMOCKA_XML_FILE"] = os.path.join(xml_dir, "%g.xml")
    p = subprocess.run([args.exe], env=env, capture_output=True, text=True, timeout=300)
    return p


def xml_verdicts(xml_dir):
    """{test: (verdict, message, properties)} from CMocka's XML files."""
    out = {}
    for f in sorted(glob.glob(os.path.join(xml_dir, "*.xml"))):
        root = ET.parse(f).getroot()
        for suite in root.iter("testsuite"):
            for case in suite.iter("testcase"):
                verdict, msg = "passed", ""
                fail = case.find("failure")
                if fail is not None:
                    verdict, msg = "failed", (fail.text or "") + fail.get("message", "")
                elif case.find("skipped") is not None:
                    verdict = "skipped"
                props = {p.get("name"): p.get("value") for p in case.iter("property")}
                out[case.get("name")] = (verdict, msg, props)
    return out


def load_stats(pattern_dir):
    files = glob.glob(os.path.join(pattern_dir, "stats.*.json"))
    if not check(len(files) == 1, f"expected one stats file in {pattern_dir}, found {files}"):
        return None, None
    doc = json.load(open(files[0]))
    pid = int(re.search(r"stats\.(\d+)\.json$", files[0]).group(1))
    check(doc.get("pid") == pid, f"%p: file {files[0]} but pid {doc.get('pid')}")
    return doc, {t["name"]: t for t in doc["tests"]}


def self_report(stdout):
    """The 'pt: NAME key=value' lines the tests print about themselves."""
    info = {}
    for m in re.finditer(r"^pt: (\S+) (.*)$", stdout, re.M):
        info[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return info


def near(a, b, tol):
    return abs(a - b) <= tol


def case_figures(args, heapcheck=True):
    work = os.path.join(args.work, "figures" if heapcheck else "no_heapcheck")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = {"HEAPSCOPE_TEST_STATS": os.path.join(work, "stats.%p.json")}
    if heapcheck:
        env["HEAPCHECK"] = "normal"
    p = run(args, env, xml_dir=os.path.join(work, "xml"))
    doc, t = load_stats(work)
    if not doc:
        return
    check(doc.get("kind") == "test-stats" and doc.get("tool") == "heapscope", "document header")
    check(list(t) == ALL_TESTS, f"tests in order: {list(t)}")
    for name, rec in t.items():
        missing = [k for k in CONTRACT if k not in rec]
        check(not missing, f"{name}: contract fields missing: {missing}")
        check(rec["group"] in ("resources", "more", "code_budgets"), f"{name}: group {rec['group']}")
        check(rec["wall_s"] >= 0 and rec["cpu_s"] >= 0, f"{name}: times")
    me = self_report(p.stdout)
    verdicts = xml_verdicts(os.path.join(work, "xml"))
    # Status as CMocka recorded it (its XML; an ERROR shows as a failure).
    for name, rec in t.items():
        v = verdicts.get(name, ("absent",))[0]
        want = {"passed": "passed", "skipped": "skipped", "failed": "failed", "error": "failed"}
        check(want.get(rec["status"]) == v, f"{name}: status {rec['status']} but CMocka says {v}")
    expect_status = {"test_fails": "failed", "test_skips": "skipped", "test_setup_fails": "error",
                     "test_leaks": "failed" if heapcheck else "passed", "test_small": "passed",
                     "test_cpu_heavy": "passed", "test_memory_heavy": "passed"}
    for name, st in expect_status.items():
        check(t[name]["status"] == st, f"{name}: status {t[name]['status']}, expected {st}")

    small = t["test_small"]
    check(small["allocs"] == 2 and small["alloc_bytes"] == 64 and small["peak_bytes"] == 64,
          f"test_small: allocs {small['allocs']} bytes {small['alloc_bytes']} peak {small['peak_bytes']}")
    check(small["live_bytes"] == 0, f"test_small: live {small['live_bytes']}")

    cpu = t["test_cpu_heavy"]
    body = me["test_cpu_heavy"]["body_cpu_ns"] / 1e9
    # The test's own measurement of its body, plus the adapter's and
    # CMocka's share: a few ms at most.
    check(body <= cpu["cpu_s"] <= body + 0.02,
          f"test_cpu_heavy: cpu_s {cpu['cpu_s']} vs the body's own {body}")
    # One thread: its CPU time cannot exceed its wall time.
    check(cpu["wall_s"] >= body - 0.001, f"test_cpu_heavy: wall {cpu['wall_s']} < its body's CPU {body}")
    # Two CPU clock reads per test: CMocka's thread's own is not read.
    check("thread_cpu_s" not in cpu, "thread_cpu_s is no longer written")
    check(cpu["peak_bytes"] < 4096, f"test_cpu_heavy: peak {cpu['peak_bytes']}")

    mem = t["test_memory_heavy"]
    peak = me["test_memory_heavy"]["peak"]
    # Exact: every allocation is recorded. The fixture (setup) counts.
    check(mem["peak_bytes"] == peak, f"test_memory_heavy: peak {mem['peak_bytes']}, expected {peak}")
    check(mem["allocs"] == me["test_memory_heavy"]["allocs"],
          f"test_memory_heavy: allocs {mem['allocs']}, expected {me['test_memory_heavy']['allocs']}")
    check(mem["alloc_bytes"] == peak + 4096, f"test_memory_heavy: alloc_bytes {mem['alloc_bytes']}")
    # The end state: nothing the test added is still live (teardown freed
    # the fixture), 8 MiB below the peak.
    check(mem["live_bytes"] == 0 and mem["peak_bytes"] > 8 << 20,
          f"test_memory_heavy: end state {mem['live_bytes']}, peak {mem['peak_bytes']}")
    check(cpu["cpu_s"] > 10 * small["cpu_s"], "CPU-heavy test not clearly above the small one")
    check(mem["peak_bytes"] > 1000 * max(small["peak_bytes"], 1), "memory-heavy peak vs small")

    th = t["test_thread"]
    check(th["peak_bytes"] >= me["test_thread"]["worker_peak"],
          f"test_thread: the worker thread's 1 MiB not in peak {th['peak_bytes']}")
    # The process's CPU clock: the worker's 0.05 s counts.
    check(th["cpu_s"] >= 0.05, f"test_thread: process cpu {th['cpu_s']} (worker burns 0.05 s)")
    if heapcheck:
        check(t["test_leaks"]["leaked_bytes"] == 333, f"test_leaks: leaked {t['test_leaks']['leaked_bytes']}")
        check(small["leaked_bytes"] == 0, "test_small leaked_bytes")
    else:
        check(t["test_leaks"]["leaked_bytes"] is None, "no leak check: leaked_bytes null")
    # Budgets set in code.
    over = t["test_code_peak_over"]
    check(over["over_budget"] == ["peak"] and over["max_peak_bytes"] == 10000, "code peak budget")
    sites = over.get("peak_sites") or [{}]
    fr = sites[0].get("frames") or [{}]
    check(sites[0].get("bytes") == 20000 and fr[0].get("function") == "hog",
          f"test_code_peak_over: peak site {sites[0]}")
    check(t["test_code_peak_under"]["over_budget"] == [] and t["test_code_peak_under"]["status"] == "passed",
          "test_code_peak_under")
    check(t["test_code_cpu_over"]["over_budget"] == ["cpu"], "code cpu budget")
    check(t["test_code_budget_off"]["status"] == "passed", "test_code_budget_off")
    # CMocka's XML carries the figures as properties.
    for name, rec in t.items():
        props = verdicts.get(name, (None, None, {}))[2]
        check(props.get("heapscope.peak_bytes") == str(rec["peak_bytes"]),
              f"{name}: XML property peak_bytes {props.get('heapscope.peak_bytes')} vs {rec['peak_bytes']}")
        check(props.get("heapscope.cpu_s") is not None and
              near(float(props["heapscope.cpu_s"]), rec["cpu_s"], 1e-9), f"{name}: XML cpu_s")
        check(props.get("heapscope.allocs") == str(rec["allocs"]), f"{name}: XML allocs")
    check(verdicts["test_code_peak_over"][2].get("heapscope.over_budget") == "peak",
          "XML over_budget property")
    check(p.returncode == (len(ALWAYS_FAIL) + 1 if heapcheck else len(ALWAYS_FAIL)),
          f"exit status {p.returncode}")


def expected_failures(verdicts):
    return {n for n, v in verdicts.items() if v[0] == "failed"}


def case_peak_budget(args):
    work = os.path.join(args.work, "peak_budget")
    shutil.rmtree(work, ignore_errors=True)
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_MAX_PEAK": "2M"},
            xml_dir=os.path.join(work, "xml"))
    v = xml_verdicts(os.path.join(work, "xml"))
    want = ALWAYS_FAIL | {"test_memory_heavy", "test_setup_fails"}
    check(expected_failures(v) == want, f"failed: {sorted(expected_failures(v))}, expected {sorted(want)}")
    msg = v["test_memory_heavy"][1]
    alloc_line = line_of(args.src, "t[i] = malloc(size);")
    check("heapscope: test 'test_memory_heavy' peaked at 8491520 byte(s)" in msg and
          "over its budget of 2097152 byte(s)" in msg and "HEAPSCOPE_TEST_MAX_PEAK" in msg,
          f"test_memory_heavy message: {msg[:400]}")
    # The sites live at the peak: the 64 blocks from grow_table, symbolized.
    check(re.search(r"8388608 byte\(s\) in 64 object\(s\) allocated from:\n\s+#0 0x[0-9a-f]+ in "
                    r"grow_table \S*pt_suite\.c:%d" % alloc_line, msg) is not None,
          f"test_memory_heavy: grow_table's site not in the report: {msg[:600]}")
    check(re.search(r"102400 byte\(s\) in 1 object\(s\) allocated from:\n\s+#0 0x[0-9a-f]+ in setup_fixture",
                    msg) is not None, "the fixture's block is not among the peak's sites")
    check(re.search(r"pt_suite\.c:%d: error: heapscope: peak of 8491520 byte\(s\) over the budget of "
                    r"2097152" % alloc_line, msg) is not None, "CMocka's failure line at the allocation")
    check("budget" not in v["test_cpu_heavy"][1] and "budget" not in v["test_small"][1], "others")
    # Console: the figures in CMocka's message, the stacks on stderr.
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_MAX_PEAK": "2M"})
    check(re.search(r"in grow_table \S*pt_suite\.c:%d" % alloc_line, p.stderr) is not None,
          "console: stacks on stderr")
    check(re.search(r"\[  FAILED  \] test_memory_heavy", p.stdout) is not None, "console verdict")


def case_cpu_budget(args):
    work = os.path.join(args.work, "cpu_budget")
    shutil.rmtree(work, ignore_errors=True)
    # No HEAPCHECK: budgets work without leak checks.
    run(args, {"HEAPSCOPE_TEST_MAX_CPU": "0.2"}, xml_dir=os.path.join(work, "xml"))
    v = xml_verdicts(os.path.join(work, "xml"))
    want = (ALWAYS_FAIL - {"test_leaks"}) | {"test_cpu_heavy", "test_setup_fails"}
    check(expected_failures(v) == want, f"failed: {sorted(expected_failures(v))}, expected {sorted(want)}")
    msg = v["test_cpu_heavy"][1]
    check(re.search(r"heapscope: test 'test_cpu_heavy' used 3\d\d\.\d ms of CPU \(.* wall\), over its "
                    r"budget of 200\.0 ms \(HEAPSCOPE_TEST_MAX_CPU\)", msg) is not None,
          f"test_cpu_heavy message: {msg[:300]}")
    code = v["test_code_cpu_over"][1]
    check(re.search(r"pt_suite\.c:%d: error: heapscope: \d+\.\d ms of CPU over the budget of 20\.0 ms"
                    % line_of(args.src, "BUDGET-CPU-CALL"), code) is not None,
          f"budget from code fails at its call: {code[:300]}")


def case_cpu_budget_profile(args):
    """Over the CPU budget while a CPU profile is taken: the test's top
    functions in its report; a test too short to be sampled says so."""
    work = os.path.join(args.work, "cpu_budget_profile")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run(args, {"HEAPSCOPE_TEST_MAX_CPU": "0.2", "CPUPROFILE": os.path.join(work, "p.prof")},
        xml_dir=os.path.join(work, "xml"))
    v = xml_verdicts(os.path.join(work, "xml"))
    burn = r"burn_cpu \S*pt_suite\.c:\d+"
    for name in ("test_cpu_heavy", "test_code_cpu_over"):
        msg = v[name][1]
        m = re.search(r"CPU profile: (\d+) sample\(s\) in this test \(([\d.]+) ms; one every 10\.0 ms "
                      r"of CPU\), top functions:\n\s+([\d.]+)% +[\d.]+ ms  " + burn, msg)
        if check(m is not None, f"{name}: no top functions led by burn_cpu: {msg[:500]}"):
            # 300 ms and 100 ms of burning at 100 Hz: about 30 and 10 samples;
            # burn_cpu first (its clock reads, system calls, are the rest).
            want = 30 if name == "test_cpu_heavy" else 10
            check(want * 0.6 <= int(m.group(1)) <= want * 1.5 and float(m.group(3)) >= 40,
                  f"{name}: {m.group(1)} samples, burn_cpu {m.group(3)}%")
        check(f"heapscope report --test='{name}' PROFILE" in msg, f"{name}: where the rest is")
    check("CPU profile" not in v["test_memory_heavy"][1], "under budget: no profile section")
    # The same profile split by test (heapscope report --tests, --test=NAME,
    # --svg --test=NAME): the CPU-heavy test holds its ~300 ms, the small
    # test next to nothing, each test's flame graph only its own code.
    prof = os.path.join(work, "p.prof")
    r = subprocess.run([args.cli, "report", "--tests", "--unit=raw", prof], capture_output=True, text=True)
    rows = {m.group(2): int(m.group(1)) / 1e9
            for m in re.finditer(r"^\s*(\d+)\s+[\d.]+%\s+\d+\s+(\S+)$", r.stdout, re.M)}
    check(0.2 <= rows.get("resources/test_cpu_heavy", 0) <= 0.45 and
          0.06 <= rows.get("code_budgets/test_code_cpu_over", 0) <= 0.15 and
          rows.get("resources/test_small", 0) <= 0.01,
          f"--tests split: {rows}")
    # The worker thread's samples are its test's too (50 ms of burning).
    check(rows.get("more/test_thread", 0) >= 0.02, f"--tests: test_thread {rows.get('more/test_thread')}")
    svg = subprocess.run([args.cli, "report", "--svg", "--test=resources/test_cpu_heavy", prof],
                         capture_output=True, text=True).stdout
    check("burn_cpu" in svg and "grow_table" not in svg and "hog" not in svg,
          "--svg --test=test_cpu_heavy: its flame graph holds burn_cpu only")
    svg = subprocess.run([args.cli, "report", "--svg", "--test=test_memory_heavy", prof],
                         capture_output=True, text=True).stdout
    check("<svg" in svg and "burn_cpu" not in svg, "--svg --test=test_memory_heavy: no burn_cpu")
    # A budget every test exceeds, samples once a second: test_small (well
    # under a millisecond of CPU) has none and says so.
    shutil.rmtree(os.path.join(work, "xml"), ignore_errors=True)
    run(args, {"HEAPSCOPE_TEST_MAX_CPU": "0.000001", "CPUPROFILE": os.path.join(work, "q.prof"),
               "CPUPROFILE_FREQUENCY": "1", "HEAPSCOPE_CMOCKA_FILTER": "test_small"},
        xml_dir=os.path.join(work, "xml"))
    v = xml_verdicts(os.path.join(work, "xml"))
    msg = v.get("test_small", ("", ""))[1]
    check("CPU profile: no sample in this test (too short to be sampled: one sample every 1.000 s "
          "of CPU)" in msg, f"test_small: {msg[:400]}")
    # No profile, no section.
    shutil.rmtree(os.path.join(work, "xml"), ignore_errors=True)
    run(args, {"HEAPSCOPE_TEST_MAX_CPU": "0.2"}, xml_dir=os.path.join(work, "xml"))
    v = xml_verdicts(os.path.join(work, "xml"))
    check("used 3" in v["test_cpu_heavy"][1] and "CPU profile" not in v["test_cpu_heavy"][1],
          "without CPUPROFILE: figures only")


def case_fast_path(args):
    """Accounting and the per-test heap profile counts stay off the malloc
    fast path: in the built library only the recording slow path
    (record_alloc, record_free, the recorded realloc) and their own code
    read hs__accounting and hs__test_buckets; a change that inlined either
    into malloc or free would show here."""
    if not shutil.which("objdump"):
        print("SKIPPED: no objdump")
        return
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", args.lib], capture_output=True,
                         text=True, check=True).stdout
    allowed = {"record_alloc", "record_free", "hs__realloc_recorded"}
    # flag -> the functions of its own besides the slow path (prefixes)
    own = {"hs__accounting": ("hs__account_",),
           "hs__test_buckets": ("hs__test_buckets_", "dump_locked", "test_split",
                                "hs__heapprof_")}
    for flag, prefixes in own.items():
        users, fn = set(), None
        for line in dis.splitlines():
            m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
            if m:
                fn = m.group(1)
            elif f"<{flag}>" in line and fn:
                users.add(fn)
        check("record_alloc" in users and "record_free" in users,
              f"{flag}: the recording paths: {sorted(users)}")
        stray = {u for u in users if u not in allowed and not u.startswith(prefixes)}
        check(not stray, f"{flag} read outside the recording slow path: {sorted(stray)}")


def case_bad_values(args):
    work = os.path.join(args.work, "bad_values")
    shutil.rmtree(work, ignore_errors=True)
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_MAX_PEAK": "12X",
                   "HEAPSCOPE_TEST_MAX_CPU": "-1"}, xml_dir=os.path.join(work, "xml"))
    lines = [l for l in p.stderr.splitlines() if l.startswith("heapscope:")]
    peak = [l for l in lines if "HEAPSCOPE_TEST_MAX_PEAK" in l]
    cpu = [l for l in lines if "HEAPSCOPE_TEST_MAX_CPU" in l]
    check(len(peak) == 1 and "invalid HEAPSCOPE_TEST_MAX_PEAK='12X'" in peak[0], f"peak: {peak}")
    check(len(cpu) == 1 and "invalid HEAPSCOPE_TEST_MAX_CPU='-1'" in cpu[0], f"cpu: {cpu}")
    v = xml_verdicts(os.path.join(work, "xml"))
    want = ALWAYS_FAIL | {"test_setup_fails"}
    check(expected_failures(v) == want, f"bad values must leave budgets off: {sorted(expected_failures(v))}")


def case_measurements(args):
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_MEASUREMENTS": "1",
                   "HEAPSCOPE_CMOCKA_FILTER": "test_memory_heavy"})
    m = dict(re.findall(r'<DartMeasurement type="numeric/double" name="([^"]+)">([^<]+)</DartMeasurement>',
                        p.stdout))
    check(m.get("heapscope.peak_bytes") == "8491520", f"measurements: {m}")
    check(m.get("heapscope.leaked_bytes") == "0" and "heapscope.cpu_s" in m and "heapscope.wall_s" in m,
          f"measurements: {m}")
    # Several tests in one process: names carry the test's.
    p = run(args, {"HEAPSCOPE_TEST_MEASUREMENTS": "1"})
    names = re.findall(r'<DartMeasurement type="numeric/double" name="([^"]+)">', p.stdout)
    check("test_small.heapscope.allocs" in names and "test_cpu_heavy.heapscope.cpu_s" in names,
          f"prefixed names: {names[:8]}")


def case_outputs_fail(args):
    work = os.path.join(args.work, "unwritable")
    shutil.rmtree(work, ignore_errors=True)
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_STATS": "/nonexistent-dir/stats.json"})
    lines = [l for l in p.stderr.splitlines() if "test statistics" in l]
    check(len(lines) == 1 and lines[0].startswith("heapscope: cannot write the test statistics to "
                                                  "/nonexistent-dir/stats.json"), f"lines: {lines}")
    check(p.returncode == len(ALWAYS_FAIL) + 1, f"exit status {p.returncode}")


def case_accounting_off(args):
    work = os.path.join(args.work, "accounting_off")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    stats = os.path.join(work, "stats.json")
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_ACCOUNTING": "0",
                   "HEAPSCOPE_TEST_MAX_PEAK": "1", "HEAPSCOPE_TEST_STATS": stats},
            xml_dir=os.path.join(work, "xml"))
    check(not os.path.exists(stats), "accounting off: no stats file")
    v = xml_verdicts(os.path.join(work, "xml"))
    check(expected_failures(v) == {"test_leaks", "test_fails", "test_setup_fails"},
          f"accounting off: no budget failures: {sorted(expected_failures(v))}")
    check(not any("heapscope.cpu_s" in x[2] for x in v.values()), "accounting off: no XML properties")


def case_report_tests(args):
    """heapscope report --tests over the statistics of two processes."""
    work = os.path.join(args.work, "report_tests")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for i, flt in enumerate(("test_cpu_heavy", "test_*")):
        run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_CMOCKA_FILTER": flt,
                   "HEAPSCOPE_TEST_STATS": os.path.join(work, f"s{i}.%p.json")})
    files = sorted(glob.glob(os.path.join(work, "s*.json")))
    check(len(files) == 2, f"stats files: {files}")
    r = subprocess.run([args.cli, "report", "--tests"] + files, capture_output=True, text=True)
    out = r.stdout
    check(r.returncode == 0, f"--tests exit {r.returncode}: {r.stderr}")
    check(re.search(r"^Tests: 13 from 2 file\(s\): 7 passed, 4 failed, 1 skipped, 1 error\(s\)", out, re.M)
          is not None, f"summary line: {out[:200]}")
    slow = out.split("Slowest tests")[1].split("Hungriest")[0].splitlines()
    hungry = out.split("Hungriest tests")[1].split("Over budget")[0].splitlines()
    check(slow[2].endswith("resources/test_cpu_heavy") and slow[3].endswith("resources/test_cpu_heavy"),
          f"slowest: both runs of test_cpu_heavy first: {slow[:4]}")
    check(hungry[2].split()[2] == "8.1MB" and hungry[2].endswith("resources/test_memory_heavy"),
          f"hungriest: {hungry[:3]}")
    check("more/test_leaks: leaked 333B;" in out, "leaking test listed")
    r = subprocess.run([args.cli, "report", "--tests", "--nodecount=1", "--unit=raw"] + files,
                       capture_output=True, text=True)
    slow = r.stdout.split("Slowest tests")[1].splitlines()
    check("(CPU time; 1 of 13)" in slow[0] and re.match(r"\s+0\.\d{9}\s", slow[2]) and
          "Hungriest" in slow[4], f"--nodecount=1 --unit=raw: {slow[:5]}")
    check(re.search(r"^\s+\S+\s+\S+\s+8491520B\s", r.stdout, re.M) is not None, "raw peak bytes")
    # Bad input: one heapscope: line, exit 2.
    bad = os.path.join(work, "bad.json")
    open(bad, "w").write(open(files[0]).read()[:150])
    other = os.path.join(work, "other.json")
    open(other, "w").write('{"tests": []}')
    heap = os.path.join(work, "x.heap")
    open(heap, "w").write("heap profile:    1:   10 [    1:   10] @ heapprofile\n1: 10 [1: 10] @ 0x1\n")
    for cmd, msg in (([bad], r"^heapscope: \S+bad\.json: invalid JSON at byte \d+: "),
                     ([other], r"^heapscope: \S+other\.json: not a heapscope document"),
                     ([files[0], heap], r"^heapscope: report: --tests takes either statistics files or "
                                        r"profiles, not both"),
                     (None, r"^heapscope: report: \S+\.json holds test statistics or a leak report "
                            r"\(JSON\): use --tests or --html")):
        argv = [args.cli, "report", "--tests"] + cmd if cmd else [args.cli, "report", files[0]]
        r = subprocess.run(argv, capture_output=True, text=True)
        check(r.returncode == 2 and len(r.stderr.splitlines()) == 1 and re.match(msg, r.stderr),
              f"{argv[2:]}: exit {r.returncode}, {r.stderr!r}")


def case_fuzz_stats(args):
    """The statistics reader, --tests and --html under mutated documents."""
    work = os.path.join(args.work, "fuzz_stats")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    stats, leaks = os.path.join(work, "stats.json"), os.path.join(work, "leaks.json")
    run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_STATS": stats, "HEAPSCOPE_REPORT": "json",
               "HEAPSCOPE_REPORT_PATH": leaks, "HEAPSCOPE_TEST_MAX_PEAK": "2M"})
    r = subprocess.run([args.fuzz, "--seconds", os.environ.get("HS_FUZZ_SECONDS", "4"), "--save",
                        os.path.join(work, "last-input"), stats, leaks],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"))
    check(r.returncode == 0, f"fuzz run failed (input in {work}/last-input): {r.stdout} {r.stderr[-3000:]}")
    m = re.search(r"(\d+) inputs, (\d+) parsed", r.stdout)
    check(m and int(m.group(1)) >= 20 and int(m.group(2)) >= 1, f"fuzz did too little: {r.stdout}")
    print(r.stdout.strip())


CASES = {"figures": case_figures, "no_heapcheck": lambda a: case_figures(a, heapcheck=False),
         "peak_budget": case_peak_budget, "cpu_budget": case_cpu_budget,
         "cpu_budget_profile": case_cpu_budget_profile, "fast_path": case_fast_path,
         "bad_values": case_bad_values, "measurements": case_measurements,
         "unwritable": case_outputs_fail, "accounting_off": case_accounting_off,
         "report_tests": case_report_tests, "fuzz_stats": case_fuzz_stats}


def arguments(ap):
    ap.add_argument("--exe", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cli", help="the heapscope command (report_tests)")
    ap.add_argument("--fuzz", help="tests/report's fuzz_report (fuzz_stats)")
    ap.add_argument("--lib", help="libheapscope.so (fast_path)")


if __name__ == "__main__":
    main(arguments, cases=CASES)
