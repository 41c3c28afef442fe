#!/usr/bin/env python3
"""The CTest module's per-test budgets and measurements (tests/pertest/ctest).

usage: ctest_measurements.py --top SRC --lib LIBHEAPSCOPE --work DIR [--generator G] [--cc CC]

Configures the project in tests/pertest/ctest (HeapScope.cmake in-tree),
checks the configure-time errors for bad budgets, builds it, runs
`ctest -T Test` and reads the dashboard's Test.xml: test_big fails on its
peak budget (heapscope_cmocka_test_budget), test_spin on its CPU budget,
test_small passes, and every test carries heapscope's figures as CTest
measurements (NamedMeasurement), which is what CDash graphs."""
import base64
import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

from checks import check, clean_env, main


def arguments(ap):
    ap.add_argument("--top", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--generator", default="Ninja")
    ap.add_argument("--cc", default="cc")


def check_module(a):
    src = os.path.join(a.top, "tests", "pertest", "ctest")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    env = clean_env(drop=("LD_PRELOAD",))
    cfg = ["cmake", "-S", src, "-G", a.generator, f"-DCMAKE_C_COMPILER={a.cc}",
           f"-DHS_TOP={a.top}", f"-DHS_LIB={a.lib}"]
    for bad, msg in (("peak", "MAX_PEAK must be bytes with an optional K, M or G suffix, not '12X'"),
                     ("cpu", "MAX_CPU must be seconds (e.g. 0.5), not 'fast'")):
        p = subprocess.run(cfg + ["-B", os.path.join(a.work, "bad-" + bad), f"-DHS_BAD={bad}"],
                           env=env, capture_output=True, text=True)
        check(p.returncode != 0 and msg in re.sub(r"\s+", " ", p.stderr),
              f"HS_BAD={bad}: configure should fail with '{msg}': {p.stderr[-500:]}")
    build = os.path.join(a.work, "build")
    p = subprocess.run(cfg + ["-B", build], env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"configure failed: {p.stdout}{p.stderr}")
    p = subprocess.run(["cmake", "--build", build], env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"build failed: {p.stdout}{p.stderr}")
    tests_file = open(os.path.join(build, "budgeted_heapscope_tests.cmake")).read()
    check(re.search(r"budgeted\.test_big.*HEAPSCOPE_MAX_PEAK \[==\[1M\]==\]", tests_file) is not None,
          "test_big's HEAPSCOPE_MAX_PEAK test property")
    check(re.search(r"budgeted\.test_spin.*HEAPSCOPE_MAX_CPU \[==\[0\.05\]==\]", tests_file) is not None,
          "test_spin's HEAPSCOPE_MAX_CPU test property")
    check(re.search(r"budgeted\.test_small.*HEAPSCOPE_MAX_CPU \[==\[30\]==\]", tests_file) is not None,
          "the target's MAX_CPU on test_small")
    subprocess.run(["ctest", "-T", "Test"], cwd=build, env=env, capture_output=True, text=True,
                   timeout=300)
    xmls = glob.glob(os.path.join(build, "Testing", "*", "Test.xml"))
    if len(xmls) != 1:
        sys.exit(f"no Test.xml: {xmls}")
    root = ET.parse(xmls[0]).getroot()
    results = {}
    for t in root.iter("Test"):
        name = t.findtext("Name")
        if not name or t.get("Status") is None:
            continue
        meas = {m.get("name"): (m.get("type"), m.findtext("Value"))
                for m in t.iter("NamedMeasurement")}
        value = t.find("Results/Measurement/Value")
        output = value.text or "" if value is not None else ""
        if value is not None and value.get("compression"):
            # ctest -T compresses outputs: base64 of zlib data.
            output = zlib.decompress(base64.b64decode(output)).decode("utf-8", "replace")
        results[name] = (t.get("Status"), meas, output)
    want = {"budgeted.test_small": "passed", "budgeted.test_big": "failed",
            "budgeted.test_spin": "failed"}
    for name, status in want.items():
        got = results.get(name)
        if not check(got is not None, f"{name} not in Test.xml ({sorted(results)})"):
            continue
        check(got[0] == status, f"{name}: status {got[0]}, expected {status}")
        meas = got[1]
        for key in ("cpu_s", "wall_s", "peak_bytes", "allocs", "alloc_bytes", "leaked_bytes"):
            m = meas.get("heapscope." + key)
            check(m is not None and m[0] == "numeric/double" and re.fullmatch(r"[0-9.]+", m[1] or ""),
                  f"{name}: measurement heapscope.{key}: {m}")
    big = results.get("budgeted.test_big")
    if big:
        check(big[1].get("heapscope.peak_bytes", (0, ""))[1] == str(8 << 20),
              f"test_big peak measurement {big[1].get('heapscope.peak_bytes')}")
        check("in grow_big" in big[2] and "over its budget of 1048576 byte(s)" in big[2],
              f"test_big's output: {big[2][:500]}")
    spin = results.get("budgeted.test_spin")
    if spin:
        check(float(spin[1].get("heapscope.cpu_s", (0, "0"))[1]) >= 0.2, "test_spin cpu_s")
        check("over its budget of 50.0 ms" in spin[2], f"test_spin's output: {spin[2][:300]}")
    small = results.get("budgeted.test_small")
    if small:
        check(small[1].get("heapscope.allocs", (0, ""))[1] == "1", f"test_small allocs {small[1]}")


if __name__ == "__main__":
    main(arguments, check_module)
