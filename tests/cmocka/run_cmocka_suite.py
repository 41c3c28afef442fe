#!/usr/bin/env python3
"""Run a CMocka suite with heapscope and check, from CMocka's own XML output,
exactly which tests failed and what their leak reports say.

--fail NAMES     comma list: exactly these tests fail (all others pass or skip)
--skipped NAMES  comma list: exactly these tests are reported skipped
--errors NAMES   comma list: of the failed tests, exactly these are ERRORs
                 (CMocka's own distinction; stdout and subunit formats only)
--report SPEC    TEST:FUNCTION:FILE:MARKER  - the failure text of TEST has a
                 frame "in FUNCTION FILE:LINE" where LINE is the line of FILE
                 containing MARKER (so the test never hard-codes line numbers)
--contains SPEC  TEST:TEXT  - the failure text of TEST contains TEXT
--absent SPEC    TEST:TEXT  - ... does not contain TEXT
--regex SPEC     TEST:REGEX - ... matches REGEX (Python re, DOTALL)
--fail-at SPEC   TEST:FILE:MARKER - CMocka's "FILE:LINE: error:" line of TEST
                 names the line of FILE containing MARKER
--env-unset VAR  remove VAR from the environment
--output-has T   the process output (stdout+stderr) contains T
--output-lacks T ... does not contain T
--output-count T:N  ... contains T exactly N times
XML output goes to one file per group (CMOCKA_XML_FILE=...-%g.xml).
--exit N         the process exit status
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def line_of(path, marker):
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if marker in line:
                return i
    sys.exit(f"marker {marker!r} not found in {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--arg", action="append", default=[], help="argument for the program")
    ap.add_argument("--preload")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--fail", default="")
    ap.add_argument("--report", action="append", default=[])
    ap.add_argument("--contains", action="append", default=[])
    ap.add_argument("--absent", action="append", default=[])
    ap.add_argument("--regex", action="append", default=[])
    ap.add_argument("--fail-at", action="append", default=[])
    ap.add_argument("--output-has", action="append", default=[])
    ap.add_argument("--output-lacks", action="append", default=[])
    ap.add_argument("--output-count", action="append", default=[])
    ap.add_argument("--skipped")
    ap.add_argument("--errors")
    ap.add_argument("--env-unset", action="append", default=[])
    ap.add_argument("--exit", type=int)
    ap.add_argument("--format", default="xml", choices=["xml", "tap", "subunit", "stdout"])
    a = ap.parse_args()

    env = dict(os.environ)
    for kv in a.env:
        k, v = kv.split("=", 1)
        env[k] = v
    for k in a.env_unset:
        env.pop(k, None)
    if a.preload:
        env["LD_PRELOAD"] = a.preload
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = os.path.join(tmp, "out-%g.xml")
        env["CMOCKA_MESSAGE_OUTPUT"] = a.format
        env["CMOCKA_XML_FILE"] = xml_path
        if a.format == "stdout":
            # One stream, in order: verdict lines (stdout) and messages (stderr).
            proc = subprocess.run([a.exe] + a.arg, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=120)
            proc.stderr = ""
        else:
            proc = subprocess.run([a.exe] + a.arg, env=env, capture_output=True, text=True,
                                  timeout=120)
        out = proc.stdout + proc.stderr
        print(out)
        failed, texts, names, skipped, errors = set(), {}, set(), set(), set()
        if a.format == "stdout":
            # Per test: [ RUN ] name, then its message, then the verdict line.
            current, buf = None, []
            for line in out.splitlines():
                m = re.match(r"^\[ RUN      \] (.*)$", line)
                if m:
                    current, buf = m.group(1), []
                    continue
                m = re.match(r"^\[  (FAILED  |ERROR   |SKIPPED |     OK )\] (.*)$", line)
                if current and m and m.group(2) == current:
                    verdict = m.group(1).strip()
                    if verdict in ("FAILED", "ERROR"):
                        failed.add(current)
                        texts[current] = "\n".join(buf)
                    if verdict == "ERROR":
                        errors.add(current)
                    if verdict == "SKIPPED":
                        skipped.add(current)
                    current = None
                    continue
                if current:
                    buf.append(line)
        elif a.format == "xml":
            xml_files = sorted(glob.glob(os.path.join(tmp, "out-*.xml")))
            if not xml_files:
                sys.exit(f"CHECK FAILED: no XML written (exit status {proc.returncode})")
            cases = [c for f in xml_files for c in ET.parse(f).getroot().iter("testcase")]
            for case in cases:
                name = case.get("name")
                names.add(name)
                msgs = [e.text or "" for e in case if e.tag in ("failure", "error")]
                if any(e.tag == "skipped" for e in case):
                    skipped.add(name)
                if msgs:
                    failed.add(name)
                    texts[name] = "\n".join(msgs)
        elif a.format == "tap":
            current = None
            for line in proc.stdout.splitlines():
                m = re.match(r"^not ok \d+ # SKIP (.*)$", line)
                if m:
                    skipped.add(m.group(1).strip())
                    current = None
                elif line.startswith("not ok "):
                    current = line.split(" - ", 1)[1].strip()
                    failed.add(current)
                    texts[current] = ""
                elif line.startswith("ok "):
                    current = None
                elif current and line.startswith("#"):
                    texts[current] += line[2:] + "\n"
        else:  # subunit
            # CMocka 1.1.5 prints the message through a 1 KiB buffer, so a
            # long one loses its closing "]": a new test line also ends it.
            current = None
            for line in proc.stdout.splitlines():
                if current is not None:
                    if line == "]":
                        current = None
                        continue
                    if not re.match(r"^(test|success|failure|error|skip): ", line):
                        texts[current] += line + "\n"
                        continue
                    current = None
                for tag in ("failure: ", "error: "):
                    if line.startswith(tag):
                        name = line[len(tag):].split(" [")[0].strip()
                        failed.add(name)
                        texts[name] = line.split(" [", 1)[1] if " [ " in line else ""
                        if tag == "error: ":
                            errors.add(name)
                        if line.endswith(" ["):
                            current = name
                if line.startswith("skip: "):
                    skipped.add(line[len("skip: "):].strip())

    errors_ = []
    want = set(filter(None, a.fail.split(",")))
    if failed != want:
        errors_.append(f"failed tests {sorted(failed)} != expected {sorted(want)}")
    if a.skipped is not None:
        want_skip = set(filter(None, a.skipped.split(",")))
        if skipped != want_skip:
            errors_.append(f"skipped tests {sorted(skipped)} != expected {sorted(want_skip)}")
    if a.errors is not None:
        want_err = set(filter(None, a.errors.split(",")))
        if errors != want_err:
            errors_.append(f"ERROR tests {sorted(errors)} != expected {sorted(want_err)}")
    for spec in a.regex:
        test, rx = spec.split(":", 1)
        if not re.search(rx, texts.get(test, ""), re.S):
            errors_.append(f"{test}: failure text does not match /{rx}/")
    for t in a.output_has:
        if t not in out:
            errors_.append(f"output lacks {t!r}")
    for t in a.output_lacks:
        if t in out:
            errors_.append(f"output has {t!r}")
    for spec in a.output_count:
        t, n = spec.rsplit(":", 1)
        if out.count(t) != int(n):
            errors_.append(f"output has {t!r} {out.count(t)} times, not {n}")
    for spec in a.fail_at:
        test, path, marker = spec.split(":", 2)
        needle = f"{os.path.realpath(path)}:{line_of(path, marker)}: error:"
        if needle not in texts.get(test, ""):
            errors_.append(f"{test}: failure text lacks {needle!r}")
    for spec in a.report:
        test, func, path, marker = spec.split(":", 3)
        line = line_of(path, marker)
        needle = f"in {func} {os.path.realpath(path)}:{line}"
        if needle not in texts.get(test, ""):
            errors_.append(f"{test}: report lacks '{needle}'")
    for spec in a.contains:
        test, text = spec.split(":", 1)
        if text not in texts.get(test, ""):
            errors_.append(f"{test}: failure text lacks {text!r}")
    for spec in a.absent:
        test, text = spec.split(":", 1)
        if text in texts.get(test, ""):
            errors_.append(f"{test}: failure text has {text!r}")
    if a.exit is not None and proc.returncode != a.exit:
        errors_.append(f"exit status {proc.returncode} != {a.exit}")
    for e in errors_:
        print("CHECK FAILED:", e)
    sys.exit(1 if errors_ else 0)


if __name__ == "__main__":
    main()
