#!/usr/bin/env python3
"""Leak-corpus test runner for heapscope.

Runs one corpus program (tests/leak/corpus/*.c) under the heapscope runtime
and checks its result EXACTLY against the expectation table below: exit
status, every Direct/Indirect block (kind, bytes, objects, and the function
and FILE:LINE of the first frames), no unexpected block, and the SUMMARY
line. With --lsan it instead runs the same program built with
-fsanitize=leak and compares LeakSanitizer's verdict with ours.

Line numbers are never hard-coded: a frame expectation names a marker, a
comment of the form  /* @name */  on the source line, and the runner looks
the marker up in the corpus sources.

  leakcase.py --list                       # case names (for CMake)
  leakcase.py --case NAME --bin DIR --preload LIB [--go GO]
  leakcase.py --case NAME --bin DIR --preload LIB --lsan

Exit status: 0 pass, 1 fail, 77 skipped (a tool the case needs is missing).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SKIP = 77


# ---- expectations -------------------------------------------------------------------------
class F:
    """One expected frame: func is the exact function name or a compiled regex
    (fullmatch); at is a marker name (FILE:LINE must be that line), or loc a
    regex searched in the location text."""

    def __init__(self, func, at=None, loc=None):
        self.func, self.at, self.loc = func, at, loc

    def describe(self, marks):
        f = self.func if isinstance(self.func, str) else "/%s/" % self.func.pattern
        if self.at:
            return "%s %s:%d" % (f, *marks[self.at])
        return "%s %s" % (f, "/%s/" % self.loc if self.loc else "*")


class B:
    """One expected report block."""

    def __init__(self, kind, nbytes, objects, frames=()):
        self.kind, self.bytes, self.objects, self.frames = kind, nbytes, objects, list(frames)

    def describe(self, marks):
        head = "%s leak of %d byte(s) in %d object(s)" % (self.kind, self.bytes, self.objects)
        return head + "".join("\n      #%d %s" % (i, f.describe(marks)) for i, f in enumerate(self.frames))


# Frequently used expectations.
DIRECT_DEEP = [B("Direct", 48, 1, [F("level4", "dd_malloc"), F("level3", "dd_l3"),
                                   F("level2", "dd_l2"), F("level1", "dd_l1")])]
INDIRECT = [B("Direct", 16, 1, [F("make_owner", "ind_owner"), F("main", "ind_main")]),
            B("Indirect", 100, 1, [F("make_buffer", "ind_buf"), F("make_owner", "ind_callbuf"),
                                   F("main", "ind_main")])]
SUPPRESSED_ONE = [B("Direct", 32, 1, [F("reported_func", "sup_reported"), F("main", "sup_main")])]
LIB_LEAK = [B("Direct", 40, 1, [F("lib_alloc", "lib_alloc"), F("lib_leak", "lib_call"),
                                F("main", "dl_main")])]
SUPP_FILE = "# heapscope leak corpus\n\nleak:suppressed_func\n"
CYCLE_ENTRY_LSAN = {
    "reason": "LeakSanitizer calls every block another leaked block points to indirect, so the "
              "cycle X <-> Y (and C below it) has no direct leak; heapscope reports one direct "
              "leak per component with no way in (leakcheck/classify.c)",
    "direct_objects": 0, "indirect_objects": 3}


def case(prog, blocks, exit=None, env=None, args=(), linked=False, summary="auto",
         report_in="stderr", checks=(), lsan=None, timeout=50, repeat=1):
    """blocks: list of B (exact set of blocks); [] = no report at all; None = the
    report is not checked. exit defaults to 1 with blocks, else 0. lsan: None
    (no LeakSanitizer comparison), True (verdicts must agree), or a dict with
    the fields where LSan is expected to differ plus "reason". repeat: run the
    program that many times (fresh ASLR layout each time); every run must pass
    (for results that depend on the address-space layout)."""
    if exit is None:
        exit = 1 if blocks else 0
    e = {"HEAPCHECK": "normal"}  # a value of None unsets the variable
    e.update(env or {})
    return dict(prog=prog, blocks=blocks, exit=exit, env=e, args=list(args), linked=linked,
                summary=summary, report_in=report_in, checks=list(checks), lsan=lsan,
                timeout=timeout, repeat=repeat)


# ---- extra checks (each returns a list of error strings) ----------------------------------
def check_bogus_mode(r):
    errs = []
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        errs.append("expected exactly one stderr line, got %d" % len(lines))
    if not lines or not lines[0].startswith("heapscope: invalid HEAPCHECK"):
        errs.append("stderr does not start with 'heapscope: invalid HEAPCHECK'")
    else:
        for m in ("minimal", "normal", "strict", "draconian", "as-is", "local"):
            if m not in lines[0]:
                errs.append("the error line does not name the valid mode %r" % m)
    if r.stdout.strip():
        errs.append("the program ran (stdout %r); the bad mode must stop it first" % r.stdout)
    return errs


def check_stderr_empty(r):
    return [] if not r.stderr.strip() else ["stderr is not empty"]


def check_stdout(pattern):
    def chk(r):
        return [] if re.search(pattern, r.stdout, re.M) else ["stdout lacks /%s/" % pattern]
    return chk


def check_suppressions_used(rows):
    """rows: list of (count, bytes, template) that the "Suppressions used:"
    block must list, exactly."""
    def chk(r):
        text = r.report
        m = re.search(r"^Suppressions used:\n\s*count\s+bytes\s+template\n((?:\s*\d+\s+\d+\s+\S.*\n)*)",
                      text, re.M)
        if not m:
            return ["no 'Suppressions used:' block with a 'count bytes template' header"]
        got = [tuple(l.split(None, 2)) for l in m.group(1).splitlines()]
        want = [(str(c), str(b), t) for c, b, t in rows]
        return [] if got == want else ["Suppressions used rows %r, expected %r" % (got, want)]
    return chk


def check_log_file(r):
    """The report went to PREFIX.PID; stderr has one line, not counted as a
    defect by CTest's memcheck parser, naming the file."""
    errs = []
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        errs.append("expected one stderr line, got %d: %r" % (len(lines), lines))
    if re.search(r"(Direct|Indirect) leak", r.stderr):
        errs.append("stderr contains 'Direct leak'/'Indirect leak' (CTest would count it twice)")
    if r.log_path and lines and r.log_path not in lines[0]:
        errs.append("the stderr line does not name %s" % r.log_path)
    return errs


def check_pprof(r):
    prof = os.path.join(r.tmp, "leaks.heap")
    if not os.path.exists(prof):
        return ["HEAPSCOPE_LEAK_PROFILE file %s was not written" % prof]
    head = open(prof, errors="replace").readline()
    errs = []
    if not head.startswith("heap profile:"):
        errs.append("leak profile does not start with 'heap profile:' (%r)" % head)
    if not r.opts.go:
        print("NOTE: go not found; pprof part of the check skipped")
        return errs
    env = dict(os.environ, HOME=r.tmp, PPROF_TMPDIR=r.tmp, GOCACHE=os.path.join(r.tmp, "gocache"),
               GOFLAGS="", GOTOOLCHAIN="local")
    p = subprocess.run([r.opts.go, "tool", "pprof", "-top", "-nodecount=50", r.exe, prof],
                       capture_output=True, text=True, env=env, timeout=60)
    print("---- go tool pprof -top ----\n" + p.stdout + p.stderr)
    if p.returncode != 0:
        return errs + ["go tool pprof failed (%d)" % p.returncode]
    for fn in ("make_owner", "make_buffer"):
        if not re.search(r"\b%s\b" % fn, p.stdout):
            errs.append("pprof -top does not list %s" % fn)
    if not re.search(r"accounting for 116B, 100% of 116B total", p.stdout):
        errs.append("pprof total is not 116B")
    return errs


# ---- the cases ----------------------------------------------------------------------------
CASES = {
    # Leaks the checker must find, with their exact blocks.
    "direct_deep": case("direct_deep", DIRECT_DEEP, lsan=True),
    "indirect": case("indirect", INDIRECT, lsan=True),
    "realloc_growth": case("realloc_growth", [
        B("Direct", 1 << 20, 1, [F("grow", "rg_realloc"), F("build", "rg_grow"),
                                 F("large_leak", "rg_large")]),
        B("Direct", 4096, 1, [F("grow", "rg_realloc"), F("build", "rg_grow"),
                              F("small_leak", "rg_small")])], lsan=True, repeat=8),
    "thread_exited": case("thread_exited", [
        B("Direct", 72, 1, [F("thread_alloc", "te_alloc"), F("worker", "te_call")])], lsan=True),
    "dlopen_leak": case("dlopen_leak", LIB_LEAK, args=["{lib:leaklib}"], lsan=True),
    "dlopen_dlclose": case("dlopen_leak", LIB_LEAK, args=["{lib:leaklib}", "close"], lsan={
        "reason": "LSan symbolizes after the library is unmapped: its frames become "
                  "'<unknown module>' (google/sanitizers #89); the verdict itself agrees",
        "frames_only": True}),
    "alloc_family": case("alloc_family", [
        B("Direct", 256, 1, [F("family", "af_aligned")]),
        B("Direct", 120, 1, [F("family", "af_calloc")]),
        B("Direct", 100, 1, [F("family", "af_memalign")]),
        B("Direct", 15, 1, [F(re.compile(r".*strdup.*"), loc=r"strdup\.c:\d+$|libc\.so\.6"),
                            F("family", "af_strdup")])], lsan=True),
    "cycle": case("cycle", [
        B("Direct", 32, 1, [F("make_node", "cy_alloc"), F("make_cycle", "cy_call")]),
        B("Indirect", 32, 1, [F("make_node", "cy_alloc"), F("make_cycle", "cy_call")])], lsan={
        "reason": "LeakSanitizer marks every leaked block that another leaked block points to "
                  "as indirect, so a cycle with no way in has no direct member; heapscope "
                  "reports one member of such a component as direct (leakcheck/classify.c)",
        "direct_objects": 0, "indirect_objects": 2}),
    # main returned: its frame is dead and not scanned at exit.
    "return_from_main": case("exit_in_main", [
        B("Direct", 56, 1, [F("held_alloc", "em_alloc"), F("main", "em_call")])],
        args=["return"], lsan=True),
    # The direct/indirect split does not depend on addresses (classify.c).
    "cycle_entry_c_first": case("cycle_entry", [
        B("Direct", 32, 1, [F("make_x", "ce_x"), F("build", "ce_x_second")]),
        B("Indirect", 48, 1, [F("make_c", "ce_c"), F("build", "ce_c_first")]),
        B("Indirect", 32, 1, [F("make_y", "ce_y"), F("build", "ce_y_third")])],
        args=["c-first"], lsan=CYCLE_ENTRY_LSAN),
    "cycle_entry_c_last": case("cycle_entry", [
        B("Direct", 32, 1, [F("make_x", "ce_x"), F("build", "ce_x_first")]),
        B("Indirect", 48, 1, [F("make_c", "ce_c"), F("build", "ce_c_last")]),
        B("Indirect", 32, 1, [F("make_y", "ce_y"), F("build", "ce_y_second")])],
        lsan=CYCLE_ENTRY_LSAN),
    "xor_hidden": case("xor_hidden", [
        B("Direct", 128, 1, [F("hidden_alloc", "xor_alloc"), F("main", "xor_call")])], lsan=True),
    "million": case("million", [
        B("Direct", 16000000, 1000000, [F("leak16", "mil_alloc"), F("main", "mil_call")])],
        lsan=True),
    "million_written": case("million_written", [
        B("Direct", 16000000, 1000000, [F("leak_written", "mw_alloc"), F("main", "mw_call")])],
        lsan=True, repeat=8),
    "stale_link": case("stale_link", [
        B("Direct", 16, 1, [F("get16", "sl_alloc"), F("leak_one", "sl_call")])], lsan=True),

    # Not leaks.
    "exit_in_main": case("exit_in_main", [], lsan=True),
    "exit_in_callee_of_main": case("exit_in_main", [], args=["deeper"], lsan=True),
    "global_normal": case("global_reachable", [], lsan=True),
    "global_draconian": case("global_reachable", [
        B("Direct", 200, 1, [F("make_block", "gr_alloc"), F("main", "gr_call200")]),
        B("Direct", 64, 1, [F("make_block", "gr_alloc"), F("main", "gr_call64")])],
        env={"HEAPCHECK": "draconian"}),
    "interior": case("interior", [], lsan=True),
    "thread_running": case("thread_running", [], lsan=True),
    "thread_sigblocked": case("thread_sigblocked", [], checks=[check_stderr_empty], lsan=True),
    "clean": case("clean", [], args=["{lib:cleanlib}"], checks=[check_stderr_empty], lsan=True),

    # Modes and configuration.
    "bogus_mode": case("direct_deep", None, exit=2, env={"HEAPCHECK": "bogus"},
                       checks=[check_bogus_mode]),
    "exit_code": case("direct_deep", DIRECT_DEEP, exit=7, env={"HEAPSCOPE_EXIT_CODE": "7"}),
    "heapcheck_1": case("direct_deep", DIRECT_DEEP, env={"HEAPCHECK": "1"}),  # heapscope.h: "1"/"true" = normal
    "strict_mode": case("indirect", INDIRECT, env={"HEAPCHECK": "strict"}),
    "as_is_no_globals": case("global_reachable", [
        B("Direct", 200, 1, [F("make_block", "gr_alloc"), F("main", "gr_call200")]),
        B("Direct", 64, 1, [F("make_block", "gr_alloc"), F("main", "gr_call64")])],
        env={"HEAPCHECK": "as-is", "HEAP_CHECK_IGNORE_GLOBAL_LIVE": "false"}),
    "ctor_normal": case("ctor_leak", [
        B("Direct", 40, 1, [F("ctor_alloc", "ct_alloc"), F("main", "ct_main")]),
        B("Direct", 24, 1, [F("ctor_alloc", "ct_alloc"), F("deep_init", "ct_deep")])], lsan=True),
    "ctor_minimal": case("ctor_leak", [
        B("Direct", 40, 1, [F("ctor_alloc", "ct_alloc"), F("main", "ct_main")])],
        env={"HEAPCHECK": "minimal"}),
    "local_mode": case("direct_deep", [], env={"HEAPCHECK": "local"}, checks=[check_stderr_empty]),

    # API: ignore / disable (linked against libheapscope).
    "ignore_api": case("ignore_api", [
        B("Direct", 56, 1, [F("ig_alloc", "ig_alloc"), F("unignored", "ig_unignored")]),
        B("Direct", 24, 1, [F("ig_alloc", "ig_alloc"), F("really_leaked", "ig_real")])],
        linked=True),

    # Suppressions.
    "suppress_heapscope": case("suppress", SUPPRESSED_ONE,
                               env={"HEAPSCOPE_SUPPRESSIONS": "{file:supp.txt=%s}" % SUPP_FILE},
                               checks=[check_suppressions_used([(1, 64, "suppressed_func")])]),
    "suppress_lsan_options": case("suppress", SUPPRESSED_ONE,
                                  env={"LSAN_OPTIONS": "suppressions={file:supp.txt=%s}" % SUPP_FILE},
                                  checks=[check_suppressions_used([(1, 64, "suppressed_func")])],
                                  lsan=True),
    "suppress_all": case("suppress", [], env={
        "LSAN_OPTIONS": "verbosity=0:suppressions='{file:all.supp=leak:*ed_func\n}'"}, lsan=True),

    # Where the report goes.
    "log_path": case("direct_deep", DIRECT_DEEP, env={"HEAPSCOPE_LOG_PATH": "{tmp}/leaklog"},
                     report_in="log:{tmp}/leaklog", checks=[check_log_file]),
    "log_path_lsan_options": case("direct_deep", DIRECT_DEEP,
                                  env={"LSAN_OPTIONS": "log_path={tmp}/lsanlog"},
                                  report_in="log:{tmp}/lsanlog", checks=[check_log_file]),
    "leak_profile": case("indirect", INDIRECT, env={"HEAPSCOPE_LEAK_PROFILE": "{tmp}/leaks.heap"},
                         checks=[check_pprof]),

    # Snapshot / diff API (linked).
    "snapshot_groups": case("snapshot_api", [], args=["groups"], env={"HEAPCHECK": "local"},
                            linked=True, checks=[check_stdout(r"^ALL OK$")]),
    "snapshot_unrecorded": case("snapshot_api", [], args=["unrecorded"], env={"HEAPCHECK": None},
                                linked=True, checks=[check_stdout(r"^ALL OK$")]),
    "snapshot_staleframe": case("snapshot_api", [], args=["staleframe"], env={"HEAPCHECK": "local"},
                                linked=True, checks=[check_stdout(r"^ALL OK$")], repeat=12),
    "snapshot_checkloop": case("snapshot_api", [], args=["checkloop"], env={"HEAPCHECK": "local"},
                               linked=True, checks=[check_stdout(r"^ALL OK$")]),
    "snapshot_1gib": case("snapshot_api", [], args=["bigheap", "1024"], env={"HEAPCHECK": "local"},
                          linked=True, checks=[check_stdout(r"^ALL OK$")]),
}


# ---- running --------------------------------------------------------------------------------
def load_markers():
    marks = {}
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.[ch]"))):
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                for m in re.finditer(r"/\* @(\w+) \*/", line):
                    if m.group(1) in marks:
                        raise SystemExit("duplicate marker @%s in %s" % (m.group(1), path))
                    marks[m.group(1)] = (os.path.basename(path), lineno)
    return marks


class Run:
    pass


def expand(s, tmp, opts):
    def file_sub(m):
        name, content = m.group(1), m.group(2)
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(content)
        return path

    s = re.sub(r"\{file:([^=}]+)=([^}]*)\}", file_sub, s)
    s = re.sub(r"\{lib:(\w+)\}", lambda m: os.path.join(opts.bin, "libleak_%s.so" % m.group(1)), s)
    return s.replace("{tmp}", tmp)


SCRUB = ("HEAPCHECK", "HEAPPROFILE", "LD_PRELOAD", "LSAN_OPTIONS", "ASAN_OPTIONS")


def base_env():
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUB and not k.startswith("HEAPSCOPE_") and not k.startswith("HEAP_")}
    env["LC_ALL"] = "C"
    return env


def run_program(c, opts, tmp, lsan=False):
    r = Run()
    r.opts, r.tmp = opts, tmp
    exe = os.path.join(opts.bin, ("lsan_" if lsan else "leak_") + c["prog"])
    r.exe = exe
    env = base_env()
    for k, v in c["env"].items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = expand(v, tmp, opts)
    if lsan:
        env.pop("HEAPCHECK", None)
        supp = env.pop("HEAPSCOPE_SUPPRESSIONS", None)
        opts_l = env.get("LSAN_OPTIONS", "")
        if supp:
            opts_l += ":suppressions=" + supp
        env["LSAN_OPTIONS"] = opts_l.strip(":")
        for k in [k for k in env if k.startswith("HEAPSCOPE_")]:
            env.pop(k)
    elif not c["linked"]:
        env["LD_PRELOAD"] = opts.preload
    argv = [exe] + [expand(a, tmp, opts) for a in c["args"]]
    r.argv = argv
    try:
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=c["timeout"],
                           errors="replace")
    except subprocess.TimeoutExpired as e:
        r.rc, r.stdout, r.stderr = "timeout", e.stdout or "", e.stderr or ""
        r.stdout = r.stdout if isinstance(r.stdout, str) else r.stdout.decode(errors="replace")
        r.stderr = r.stderr if isinstance(r.stderr, str) else r.stderr.decode(errors="replace")
    else:
        r.rc, r.stdout, r.stderr = p.returncode, p.stdout, p.stderr
    r.report, r.log_path, r.log_errors = r.stderr, None, []
    if c["report_in"].startswith("log:") and not lsan:
        prefix = expand(c["report_in"][4:], tmp, opts)
        files = sorted(glob.glob(prefix + ".*"))
        m = re.search(r"^pid=(\d+)$", r.stdout, re.M)
        want = "%s.%s" % (prefix, m.group(1)) if m else None
        if files != [want]:
            r.log_errors.append("log files %r, expected exactly [%r]" % (files, want))
        if want and os.path.exists(want):
            r.log_path = want
            r.report = open(want, errors="replace").read()
        else:
            r.report = ""
    return r


HEAD_RE = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:$")
FRAME_RE = re.compile(r"^    #(\d+) 0x[0-9a-f]+(?: in (\S+))?(?: (.*))?$")


def parse_report(text, tool="heapscope"):
    blocks, cur = [], None
    for line in text.splitlines():
        m = HEAD_RE.match(line)
        if m:
            cur = dict(kind=m.group(1), bytes=int(m.group(2)), objects=int(m.group(3)), frames=[],
                       text=[line])
            blocks.append(cur)
            continue
        if cur is not None:
            fm = FRAME_RE.match(line)
            if fm:
                cur["frames"].append((int(fm.group(1)), fm.group(2) or "", fm.group(3) or ""))
                cur["text"].append(line)
                continue
            cur = None
    summaries = re.findall(r"^SUMMARY: %s: (\d+) byte\(s\) leaked in (\d+) allocation\(s\)\.$" % tool,
                           text, re.M)
    return blocks, [(int(a), int(b)) for a, b in summaries]


def frame_ok(exp, got, marks):
    num, func, loc = got
    if isinstance(exp.func, str):
        if func != exp.func:
            return False
    elif not exp.func.fullmatch(func):
        return False
    if exp.at:
        fname, line = marks[exp.at]
        return re.search(r"(^|/)%s:%d$" % (re.escape(fname), line), loc) is not None
    if exp.loc:
        return re.search(exp.loc, loc) is not None
    return True


def block_ok(exp, got, marks):
    if (exp.kind, exp.bytes, exp.objects) != (got["kind"], got["bytes"], got["objects"]):
        return False
    if len(got["frames"]) < len(exp.frames):
        return False
    for i, f in enumerate(exp.frames):
        if got["frames"][i][0] != i or not frame_ok(f, got["frames"][i], marks):
            return False
    return True


def check_case(name, c, opts, marks):
    for i in range(c["repeat"]):
        if c["repeat"] > 1:
            print("== run %d of %d" % (i + 1, c["repeat"]))
        rc = check_case_once(name, c, opts, marks)
        if rc:
            if c["repeat"] > 1:
                print("(failed in run %d of %d; runs before it passed)" % (i + 1, c["repeat"]))
            return rc
    return 0


def check_case_once(name, c, opts, marks):
    tmp = tempfile.mkdtemp(prefix="leakcase-%s-" % name)
    r = run_program(c, opts, tmp)
    errs = list(r.log_errors)
    if r.rc != c["exit"]:
        errs.append("exit status %s, expected %d" % (r.rc, c["exit"]))
    blocks, sums = parse_report(r.report)
    if c["blocks"] is not None:
        if not c["blocks"]:
            if blocks or sums or re.search(r"ERROR: heapscope|SUMMARY: heapscope", r.stderr):
                errs.append("expected no leak report, got %d block(s)" % len(blocks))
        else:
            left = list(blocks)
            for e in c["blocks"]:
                hit = next((g for g in left if block_ok(e, g, marks)), None)
                if hit is None:
                    errs.append("missing block:\n    " + e.describe(marks))
                else:
                    left.remove(hit)
            for g in left:
                errs.append("unexpected block:\n    " + "\n    ".join(g["text"][:6]))
            if c["summary"] == "auto":
                want = (sum(b.bytes for b in c["blocks"]), sum(b.objects for b in c["blocks"]))
                if sums != [want]:
                    errs.append("SUMMARY lines %r, expected exactly one for %d byte(s) in %d "
                                "allocation(s)" % (sums, *want))
    for chk in c["checks"]:
        errs.extend(chk(r))
    if r.stdout.strip():
        print("---- stdout ----\n" + r.stdout.rstrip())
    print("---- command ----\n%s (exit %s)" % (" ".join(r.argv), r.rc))
    if errs:
        print("---- stderr ----\n" + r.stderr.rstrip())
        if r.report is not r.stderr:
            print("---- report file ----\n" + r.report.rstrip())
        print("---- FAIL %s ----" % name)
        for e in errs:
            print(" * " + e)
        print("(temporary files kept in %s)" % tmp)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("PASS %s" % name)
    return 0


def verdict(r, tool):
    blocks, sums = parse_report(r.report, tool)
    leaked = bool(blocks)
    v = dict(leaked=leaked,
             bytes=sums[0][0] if sums else 0, objects=sums[0][1] if sums else 0,
             direct_objects=sum(b["objects"] for b in blocks if b["kind"] == "Direct"),
             indirect_objects=sum(b["objects"] for b in blocks if b["kind"] == "Indirect"))
    return v, blocks


def compare_lsan(name, c, opts, marks):
    for i in range(min(c["repeat"], 3)):
        rc = compare_lsan_once(name, c, opts, marks)
        if rc:
            if c["repeat"] > 1:
                print("(failed in run %d)" % (i + 1))
            return rc
    return 0


def compare_lsan_once(name, c, opts, marks):
    if not os.path.exists(os.path.join(opts.bin, "lsan_" + c["prog"])):
        print("SKIP: no LeakSanitizer build of %s" % c["prog"])
        return SKIP
    tmp = tempfile.mkdtemp(prefix="leakcase-lsan-%s-" % name)
    ours = run_program(c, opts, tmp)
    theirs = run_program(c, opts, tmp, lsan=True)
    vo, _ = verdict(ours, "heapscope")
    vl, lblocks = verdict(theirs, "LeakSanitizer")
    if re.search(r"LeakSanitizer has encountered a fatal error|LeakSanitizer does not work",
                 theirs.stderr):
        print(theirs.stderr)
        print("SKIP: LeakSanitizer cannot run here")
        return SKIP
    keys = ["leaked", "bytes", "objects", "direct_objects", "indirect_objects"]
    print("%-18s %s" % ("", "  ".join("%16s" % k for k in keys)))
    for tool, v in (("heapscope", vo), ("LeakSanitizer", vl)):
        print("%-18s %s" % (tool, "  ".join("%16s" % v[k] for k in keys)))
    diff = [k for k in keys if vo[k] != vl[k]]
    doc = c["lsan"] if isinstance(c["lsan"], dict) else {}
    errs = []
    if doc.get("frames_only"):
        # The documented difference is in the frames only: verdicts must agree,
        # and LSan is expected to lose the library's symbols.
        unk = any("<unknown module>" in l for b in lblocks for l in b["text"])
        print("NOTE (documented): %s%s" % (doc["reason"], "" if unk else
                                          " [LSan did symbolize this time]"))
    expected = {k: v for k, v in doc.items() if k in keys}
    if diff:
        if expected and all(vl[k] == expected[k] for k in expected) and set(diff) <= set(expected):
            print("documented disagreement on %s: %s" % (", ".join(diff), doc["reason"]))
        else:
            errs.append("verdicts disagree on: %s" % ", ".join(
                "%s (heapscope %s, LeakSanitizer %s)" % (k, vo[k], vl[k]) for k in diff))
    elif expected:
        print("NOTE: the documented disagreement (%s) did not occur" % doc["reason"])
    if errs:
        print("---- heapscope stderr ----\n" + ours.stderr.rstrip())
        print("---- LeakSanitizer stderr ----\n" + theirs.stderr.rstrip())
        print("---- FAIL lsan.%s ----" % name)
        for e in errs:
            print(" * " + e)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("PASS lsan.%s" % name)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print 'NAME LSAN(0/1) PROGRAM' per case")
    ap.add_argument("--case")
    ap.add_argument("--bin", help="directory of the corpus binaries")
    ap.add_argument("--preload", help="libheapscope.so")
    ap.add_argument("--go", default=shutil.which("go"))
    ap.add_argument("--lsan", action="store_true")
    opts = ap.parse_args()
    if opts.list:
        for n, c in CASES.items():
            print(n, 1 if c["lsan"] else 0, c["prog"])
        return 0
    if opts.case not in CASES:
        ap.error("unknown case %r" % opts.case)
    marks = load_markers()
    c = CASES[opts.case]
    sys.stdout.flush()
    if opts.lsan:
        return compare_lsan(opts.case, c, opts, marks)
    return check_case(opts.case, c, opts, marks)


if __name__ == "__main__":
    sys.exit(main())
