#!/usr/bin/env python3
"""Checks a heapscope JSON leak report (HEAPSCOPE_REPORT=json).

usage: check_json.py FILE [--leak KIND:BYTES:FUNCTION:FILE:LINE]... [--total BYTES]
                          [--file-exact PATH]

FILE must hold exactly one JSON document (json.load). Each --leak names a
leak group whose first frame has that function, a file ending in FILE (or
equal to --file-exact) and that line. Exits 0 on success, 1 with a message.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--leak", action="append", default=[])
    ap.add_argument("--total", type=int)
    ap.add_argument("--file-exact")
    a = ap.parse_args()
    with open(a.file, encoding="utf-8") as f:
        doc = json.load(f)
    errors = []
    if doc.get("tool") != "heapscope":
        errors.append("tool is not heapscope")
    if not isinstance(doc.get("pid"), int):
        errors.append("pid missing")
    leaks = doc.get("leaks")
    if not isinstance(leaks, list) or not leaks:
        errors.append("no leaks array")
        leaks = []
    for g in leaks:
        for key in ("kind", "bytes", "objects", "frames"):
            if key not in g:
                errors.append("leak without %s: %r" % (key, g))
        for fr in g.get("frames", []):
            for key in ("pc", "function", "file", "line", "module"):
                if key not in fr:
                    errors.append("frame without %s: %r" % (key, fr))
            if not str(fr.get("pc", "")).startswith("0x"):
                errors.append("pc not hex: %r" % fr)
    for spec in a.leak:
        kind, nbytes, func, fname, line = spec.split(":")
        found = False
        for g in leaks:
            frames = g.get("frames") or [{}]
            fr = frames[0]
            file_ok = (fr.get("file") == a.file_exact) if a.file_exact else \
                str(fr.get("file", "")).endswith(fname)
            if (g.get("kind") == kind and g.get("bytes") == int(nbytes)
                    and fr.get("function") == func and file_ok
                    and fr.get("line") == int(line)):
                found = True
        if not found:
            errors.append("no leak %s (file %s) in %s" % (spec, a.file_exact or fname,
                                                       json.dumps(leaks, indent=1)))
    if a.total is not None:
        s = doc.get("summary", {})
        if s.get("bytes") != a.total:
            errors.append("summary.bytes %r != %d" % (s.get("bytes"), a.total))
    if errors:
        print("\n".join(errors))
        return 1
    print("ok: %d leak group(s), summary %r" % (len(leaks), doc.get("summary")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
