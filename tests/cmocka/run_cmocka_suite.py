#!/usr/bin/env python3
"""Run a CMocka suite with heapscope and check, from CMocka's own XML output,
exactly which tests failed and what their leak reports say.

--fail NAMES     comma list: exactly these tests fail (all others pass or skip)
--report SPEC    TEST:FUNCTION:FILE:MARKER  - the failure text of TEST has a
                 frame "in FUNCTION FILE:LINE" where LINE is the line of FILE
                 containing MARKER (so the test never hard-codes line numbers)
--contains SPEC  TEST:TEXT  - the failure text of TEST contains TEXT
--absent SPEC    TEST:TEXT  - ... does not contain TEXT
--exit N         the process exit status
"""
import argparse
import os
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
    ap.add_argument("--preload")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--fail", default="")
    ap.add_argument("--report", action="append", default=[])
    ap.add_argument("--contains", action="append", default=[])
    ap.add_argument("--absent", action="append", default=[])
    ap.add_argument("--exit", type=int)
    ap.add_argument("--format", default="xml", choices=["xml", "tap", "subunit"])
    a = ap.parse_args()

    env = dict(os.environ)
    for kv in a.env:
        k, v = kv.split("=", 1)
        env[k] = v
    if a.preload:
        env["LD_PRELOAD"] = a.preload
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = os.path.join(tmp, "out.xml")
        env["CMOCKA_MESSAGE_OUTPUT"] = a.format
        env["CMOCKA_XML_FILE"] = xml_path
        proc = subprocess.run([a.exe], env=env, capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        print(out)
        failed, texts, names = set(), {}, set()
        if a.format == "xml":
            if not os.path.exists(xml_path):
                sys.exit(f"CHECK FAILED: no XML written (exit status {proc.returncode})")
            root = ET.parse(xml_path).getroot()
            for case in root.iter("testcase"):
                name = case.get("name")
                names.add(name)
                msgs = [e.text or "" for e in case if e.tag in ("failure", "error")]
                if msgs:
                    failed.add(name)
                    texts[name] = "\n".join(msgs)
        elif a.format == "tap":
            for line in proc.stdout.splitlines():
                if line.startswith("not ok "):
                    failed.add(line.split(" - ", 1)[1].strip())
            texts = {n: out for n in failed}
        else:  # subunit
            for line in proc.stdout.splitlines():
                for tag in ("failure: ", "error: "):
                    if line.startswith(tag):
                        failed.add(line[len(tag):].split(" [")[0].strip())
            texts = {n: out for n in failed}

    errors = []
    want = set(filter(None, a.fail.split(",")))
    if failed != want:
        errors.append(f"failed tests {sorted(failed)} != expected {sorted(want)}")
    for spec in a.report:
        test, func, path, marker = spec.split(":", 3)
        line = line_of(path, marker)
        needle = f"in {func} {os.path.realpath(path)}:{line}"
        if needle not in texts.get(test, ""):
            errors.append(f"{test}: report lacks '{needle}'")
    for spec in a.contains:
        test, text = spec.split(":", 1)
        if text not in texts.get(test, ""):
            errors.append(f"{test}: failure text lacks {text!r}")
    for spec in a.absent:
        test, text = spec.split(":", 1)
        if text in texts.get(test, ""):
            errors.append(f"{test}: failure text has {text!r}")
    if a.exit is not None and proc.returncode != a.exit:
        errors.append(f"exit status {proc.returncode} != {a.exit}")
    for e in errors:
        print("CHECK FAILED:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
