#!/usr/bin/env python3
"""An independent reader of gperftools' legacy binary CPU profile, for tests.

Parses a profile strictly (header 0 3 0 period 0, records `count depth pc...`
leaf first, trailer 0 1 0, then /proc/self/maps text), symbolizes every pc
from the maps section with nm and readelf (no heapscope code involved), and
sums time per function: flat (the leaf) and cum (anywhere in the stack).

    cpucheck.py PROFILE [--live] [--tests FILE] [--json]

--live: accept what a running or killed process leaves (count-0 marker,
filler and skip records); without it the file must be compact (every
record a sample, every stack once). --tests: also read PATH.tests.
Prints a JSON summary; exit 1 with one line on a malformed file.
"""
import bisect
import functools
import json
import re
import struct
import subprocess
import sys

MARK_BASE, MARK_MASK = 0xfffffe0000000000, 0xffffff0000000000


class Bad(Exception):
    pass


def parse(data, live):
    if len(data) < 64 or len(data) % 1 != 0:
        raise Bad("too short")
    words = lambda i, n: struct.unpack_from("<%dQ" % n, data, 8 * i)
    hdr = words(0, 5)
    if hdr[0] != 0 or hdr[1] != 3 or hdr[2] != 0 or hdr[3] == 0 or hdr[4] != 0:
        raise Bad("bad header %r" % (hdr,))
    period = hdr[3]
    nwords = len(data) // 8
    i, recs, markers, zero = 5, [], 0, 0
    test = 0
    while True:
        if i + 2 > nwords:
            raise Bad("no trailer")
        count, n = words(i, 2)
        if n == 0 or i + 2 + n > nwords:
            raise Bad("record at word %d: depth %d runs past the end" % (i, n))
        pcs = words(i + 2, n)
        i += 2 + n
        if count == 0 and n == 1 and pcs[0] == 0:
            break  # trailer
        if count == 0:
            if not live:
                raise Bad("count-0 record at word %d in a compact profile" % (i - 2 - n))
            zero += 1
            if n == 1 and pcs[0] & MARK_MASK == MARK_BASE:
                test = pcs[0] & ~MARK_MASK
                markers += 1
            continue
        recs.append((count, pcs, test))
    maps = data[8 * i:].decode("utf-8", "replace")
    if not live:
        seen = set()
        for _, pcs, _ in recs:
            if pcs in seen:
                raise Bad("stack written twice in a compact profile")
            seen.add(pcs)
    return period, recs, maps, {"zero_records": zero, "markers": markers}


MAPS_RE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$")


@functools.lru_cache(maxsize=None)
def elf_info(path):
    """(pt_load segments [(offset, vaddr)], sorted symbols [(start, end, name)])"""
    try:
        ph = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
        nm = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True,
                            text=True).stdout
        if not nm.strip():  # stripped: the dynamic symbols still name exports
            nm = subprocess.run(["nm", "-D", "-S", "--defined-only", path],
                                capture_output=True, text=True).stdout
    except OSError:
        return [], []
    loads = []
    for line in ph.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[1], 16), int(f[2], 16)))
    syms = []
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            start, size = int(f[0], 16), int(f[1], 16)
            if size:
                syms.append((start, start + size, f[3]))
    syms.sort()
    return loads, syms


class Symbolizer:
    def __init__(self, maps):
        self.maps = []
        for line in maps.splitlines():
            m = MAPS_RE.match(line)
            if m and m.group(3)[2] == "x":
                lo, hi, off = int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16)
                self.maps.append((lo, hi, off, m.group(5).strip()))

    def module(self, addr):
        for lo, hi, off, path in self.maps:
            if lo <= addr < hi:
                return lo, off, path
        return None

    def function(self, addr):
        mod = self.module(addr)
        if not mod or not mod[2].startswith("/"):
            return "?"
        lo, off, path = mod
        loads, syms = elf_info(path)
        seg = [v for o, v in loads if o & ~0xfff == off]
        if not seg:
            return "?"
        bias = lo - (seg[0] & ~0xfff)
        a = addr - bias
        k = bisect.bisect_right(syms, (a, float("inf"), "")) - 1
        if k >= 0 and syms[k][0] <= a < syms[k][1]:
            return syms[k][2]
        return "?"


def summarize(period, recs, sym):
    flat, cum, total = {}, {}, 0
    cache = {}

    def name(pc, leaf):
        key = (pc, leaf)
        if key not in cache:
            cache[key] = sym.function(pc if leaf else pc - 1)
        return cache[key]

    for count, pcs, _ in recs:
        total += count
        names = [name(pc, i == 0) for i, pc in enumerate(pcs)]
        flat[names[0]] = flat.get(names[0], 0) + count
        for n in set(names):
            cum[n] = cum.get(n, 0) + count
    return {"period_us": period, "total": total, "flat": flat, "cum": cum}


def parse_tests(path, sym):
    lines = open(path).read().splitlines()
    if not lines or lines[0] != "heapscope test samples 1":
        raise Bad("%s: bad first line" % path)
    tests, cur = {}, None
    for line in lines[1:]:
        if line.startswith("test "):
            group, tab, name = line[5:].partition("\t")
            if not tab:
                raise Bad("%s: test line without a tab: %r" % (path, line))
            cur = tests.setdefault(group + "/" + name, {"stacks": 0, "total": 0, "flat": {},
                                                         "cum": {}})
            continue
        f = line.split()
        if cur is None or len(f) < 2:
            raise Bad("%s: bad line %r" % (path, line))
        count, pcs = int(f[0]), [int(x, 16) for x in f[1:]]
        cur["stacks"] += 1
        cur["total"] += count
        names = [sym.function(pc if i == 0 else pc - 1) for i, pc in enumerate(pcs)]
        cur["flat"][names[0]] = cur["flat"].get(names[0], 0) + count
        for n in set(names):
            cur["cum"][n] = cur["cum"].get(n, 0) + count
    return tests


def main(argv):
    args = argv[1:]
    live = "--live" in args
    tests = None
    if "--tests" in args:
        tests = args[args.index("--tests") + 1]
    path = args[0]
    try:
        period, recs, maps, info = parse(open(path, "rb").read(), live)
        sym = Symbolizer(maps)
        out = summarize(period, recs, sym)
        out.update(info)
        out["records"] = len(recs)
        out["modules"] = sorted({p for _, _, _, p in sym.maps})
        out["tests_in_file"] = sorted({t for _, _, t in recs if t})
        if tests:
            out["tests"] = parse_tests(tests, sym)
    except (Bad, struct.error) as e:
        print("cpucheck: %s: %s" % (path, e))
        return 1
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
