#!/usr/bin/env python3
"""The machine outputs of per-test CMocka checks, on the example suite
(test_remove leaks 3 blocks from 3 stacks, test_shout 1):

  * HEAPSCOPE_REPORT=json + HEAPSCOPE_REPORT_PATH: the file is ONE valid JSON
    document (json.load) for the whole process; every leak entry names its
    test and group; no frame belongs to the runtime or to libcmocka (stacks
    are cut where the adapter called the test); the summary adds up.
  * HEAPSCOPE_REPORT=github: one annotation per leak stack, titled with the
    test's name.
  * HEAP_CHECK_MAX_LEAKS=1 + HEAPSCOPE_LOG_PATH: the console shows one stack
    per test, the log file (read by tools: ctest -T memcheck) every stack.

usage: check_ci_outputs.py --exe SUITE [--preload LIB]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

LEAKING = {"test_remove": 3, "test_shout": 1}   # leak stacks per test


def run(exe, preload, extra, tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEAPSCOPE_", "CMOCKA_", "LSAN_", "HEAP_CHECK"))}
    env.update(HEAPCHECK="normal", **extra)
    env.pop("GITHUB_WORKSPACE", None)
    if preload:
        env["LD_PRELOAD"] = preload
    return subprocess.run([exe], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--preload")
    a = ap.parse_args()
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        # ---- JSON ------------------------------------------------------------
        path = os.path.join(tmp, "leaks.json")
        p = run(a.exe, a.preload, {"HEAPSCOPE_REPORT": "json", "HEAPSCOPE_REPORT_PATH": path}, tmp)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            doc = {}
            errors.append(f"json: {path} is not one JSON document: {e}")
        leaks = doc.get("leaks", [])
        per_test = {}
        for g in leaks:
            per_test[g.get("test")] = per_test.get(g.get("test"), 0) + 1
            if g.get("group") != "tests":
                errors.append(f"json: leak of {g.get('test')} has group {g.get('group')!r}")
            for fr in g.get("frames", []):
                where = f"{fr.get('function')} {fr.get('module')}"
                if re.search(r"libheapscope|libcmocka|our_test|cmocka_run_one|_cmocka_run_group",
                             where):
                    errors.append(f"json: runtime or CMocka frame in {g.get('test')}: {where}")
            if not g.get("frames"):
                errors.append(f"json: leak of {g.get('test')} has no frames")
        if per_test != LEAKING:
            errors.append(f"json: leak stacks per test {per_test} != {LEAKING}")
        total = sum(g.get("bytes", 0) for g in leaks)
        if doc.get("summary", {}).get("bytes") != total or total != 34:
            errors.append(f"json: summary {doc.get('summary')} vs {total} bytes in entries (34)")

        # ---- GitHub annotations -------------------------------------------------
        p = run(a.exe, a.preload, {"HEAPSCOPE_REPORT": "github"}, tmp)
        for test, n in LEAKING.items():
            got = len(re.findall(rf"^::error [^\n]*title=heapscope leak in {test}::", p.stderr, re.M))
            if got != n:
                errors.append(f"github: {got} annotations titled with {test}, expected {n}")

        # ---- console capped, log file complete ------------------------------------
        prefix = os.path.join(tmp, "hs-log")
        p = run(a.exe, a.preload, {"HEAP_CHECK_MAX_LEAKS": "1", "HEAPSCOPE_LOG_PATH": prefix,
                                   "CMOCKA_MESSAGE_OUTPUT": "stdout"}, tmp)
        console = p.stdout + p.stderr
        shown = len(re.findall(r"^(Direct|Indirect) leak of", console, re.M))
        if shown != 2:
            errors.append(f"console: {shown} leak stacks shown, expected 1 per leaking test (2)")
        if "2 more leak stack(s) not shown" not in console:
            errors.append("console: no '2 more leak stack(s) not shown' note for test_remove")
        logs = glob.glob(prefix + ".*")
        text = "".join(open(f, encoding="utf-8").read() for f in logs)
        in_log = len(re.findall(r"^(Direct|Indirect) leak of", text, re.M))
        if in_log != sum(LEAKING.values()):
            errors.append(f"log file: {in_log} leak stacks, expected every one "
                          f"({sum(LEAKING.values())}) in {logs}")
        if "not shown" in text:
            errors.append("log file: stacks were left out")
    for e in errors:
        print("CHECK FAILED:", e)
    if not errors:
        print("ok: JSON document, annotations, console cap and complete log file")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
