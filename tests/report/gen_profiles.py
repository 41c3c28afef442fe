#!/usr/bin/env python3
"""Writes synthetic profiles over a real binary, in every format `heapscope
report` reads, from one known set of stacks (our own writer, independent of
the C code):

  cpu.prof (+ cpu.prof.tests)  legacy binary CPU profile, 64-bit LE, each
                               stack split over several records, with the
                               per-test side file (docs/report.md)
  cpu32be.prof                 the same in 32-bit big-endian words
  heap.heap                    legacy heap profile text
  unsym.pb.gz                  profile.proto with addresses and a mapping
                               only (symbolized by the analyzer), test labels
  sym.pb                       self-symbolized profile.proto (uncompressed),
                               with an inlined frame, test labels
  truth.json                   the stacks (function names, leaf first), values
                               and test labels

usage: gen_profiles.py BINARY OUTDIR
The binary is pretended to be loaded at a fixed base; its ELF program
headers give the mappings, `nm` the function addresses."""
import gzip
import json
import os
import struct
import subprocess
import sys

BASE64 = 0x555555554000
BASE32 = 0x10000000

# (stack leaf first, count, test group, test name): a CPU-like shape with
# recursion, several second frames (so pprof's "common second frame" strip
# never fires), and samples in and outside tests.
STACKS = [
    (["work_x", "path_a", "main"], 70, None, None),
    (["work_x", "path_a", "main"], 50, "g1", "t_alpha"),
    (["work_y", "path_a", "main"], 40, None, None),
    (["work_x", "path_b", "main"], 60, "g2", "t_beta"),
    (["work_z", "rec", "rec", "rec", "rec", "path_b", "main"], 50, None, None),
    (["work_z", "rec", "rec", "rec", "rec", "path_b", "main"], 30, "g2", "t_beta"),
    (["work_z", "rec", "rec", "rec", "rec", "path_b", "main"], 10, "g1", "t_alpha"),
    (["rec", "rec", "path_b", "main"], 5, None, None),
    (["alloc_small", "heap_pattern", "main"], 7, "g1", "t_gamma"),
]
PERIOD_US = 10000


def functions(binary):
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    f = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "Tt":
            f[p[2]] = int(p[0], 16)
    return f


def loads(binary):
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                         check=True).stdout
    segs = []
    for line in out.splitlines():
        p = line.split()
        if p and p[0] == "LOAD":
            flags = "".join(p[6:-1])
            segs.append((int(p[1], 16), int(p[2], 16), int(p[5], 16), flags))
    return segs


def maps_text(binary, base):
    lines = []
    for off, vaddr, memsz, flags in loads(binary):
        start = base + (vaddr & ~0xFFF)
        end = base + ((vaddr + memsz + 0xFFF) & ~0xFFF)
        perms = ("r" if "R" in flags else "-") + ("w" if "W" in flags else "-") + \
            ("x" if "E" in flags else "-") + "p"
        lines.append("%x-%x %s %08x 08:01 1234 %s" % (start, end, perms, off & ~0xFFF,
                                                       os.path.abspath(binary)))
    return "\n".join(lines) + "\n"


def pcs_of(names, syms, base):
    """Leaf: an instruction inside the function; callers: return addresses."""
    return [base + syms[n] + (4 if i == 0 else 9) for i, n in enumerate(names)]


def write_cpu(path, binary, syms, base, word, big, side):
    fmt = (">" if big else "<") + ("Q" if word == 8 else "I")
    out = bytearray()
    def w(*xs):
        for x in xs:
            out.extend(struct.pack(fmt, x))
    w(0, 3, 0, PERIOD_US, 0)
    for names, count, _, _ in STACKS:
        pcs = pcs_of(names, syms, base)
        a = count // 3 or count
        for part in ([a, count - a] if count - a else [count]):
            w(part, len(pcs), *pcs)
    w(0, 1, 0)
    out.extend(maps_text(binary, base).encode())
    open(path, "wb").write(out)
    if side:
        by_test = {}
        for names, count, group, test in STACKS:
            if test:
                by_test.setdefault((group, test), []).append((names, count))
        with open(path + ".tests", "w") as f:
            f.write("heapscope test samples 1\n")
            for (group, test), lst in by_test.items():
                f.write("test %s\t%s\n" % (group, test))
                for names, count in lst:
                    f.write("%d %s\n" % (count, " ".join("0x%x" % p for p in pcs_of(names, syms, base))))


def write_heap(path, binary, syms):
    lines, tot = [], [0, 0, 0, 0]
    for k, (names, count, _, _) in enumerate(STACKS):
        ao, ab = count, count * (100 + k)
        io, ib = count // 2, (count // 2) * (100 + k)
        lines.append("%6d: %8d [%6d: %8d] @ %s" % (io, ib, ao, ab, " ".join(
            "0x%016x" % (p + 0 if i else p + 5) for i, p in enumerate(pcs_of(names, syms, BASE64)))))
        for i, v in enumerate((io, ib, ao, ab)):
            tot[i] += v
    with open(path, "w") as f:
        f.write("heap profile: %6d: %8d [%6d: %8d] @ heapprofile\n" % tuple(tot))
        f.write("\n".join(lines) + "\n\nMAPPED_LIBRARIES:\n")
        f.write(maps_text(binary, BASE64))


# ---- protobuf ----------------------------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1
    b = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            b.append(c | 0x80)
        else:
            b.append(c)
            return bytes(b)


def field(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def msg(*parts):
    return b"".join(parts)


def write_proto(path, binary, syms, symbolized, mapped_path=None, build_id=None):
    """mapped_path / build_id: what the mapping records (default: the
    binary's absolute path, no build-id)."""
    strings = [""]
    index = {"": 0}
    def s(x):
        if x not in index:
            index[x] = len(strings)
            strings.append(x)
        return index[x]
    body = bytearray()
    body += field(1, 2, msg(field(1, 0, s("samples")), field(2, 0, s("count"))))
    body += field(1, 2, msg(field(1, 0, s("cpu")), field(2, 0, s("nanoseconds"))))
    body += field(11, 2, msg(field(1, 0, s("cpu")), field(2, 0, s("nanoseconds"))))
    body += field(12, 0, PERIOD_US * 1000)
    segs = [x for x in loads(binary) if "E" in x[3]]
    off, vaddr, memsz, _ = segs[0]
    start = BASE64 + (vaddr & ~0xFFF)
    body += field(3, 2, msg(field(1, 0, 1), field(2, 0, start),
                            field(3, 0, BASE64 + ((vaddr + memsz + 0xFFF) & ~0xFFF)),
                            field(4, 0, off & ~0xFFF),
                            field(5, 0, s(mapped_path or os.path.abspath(binary))),
                            field(6, 0, s(build_id) if build_id else 0),
                            field(7, 0, 1 if symbolized else 0)))
    locs, funcs = {}, {}
    def func_id(name):
        if name not in funcs:
            funcs[name] = len(funcs) + 1
            body.extend(field(5, 2, msg(field(1, 0, funcs[name]), field(2, 0, s(name)),
                                        field(4, 0, s("/src/" + name + ".c")))))
        return funcs[name]
    def loc_id(addr, name, depth):
        key = (addr, name)
        if key not in locs:
            locs[key] = len(locs) + 1
            parts = [field(1, 0, locs[key]), field(2, 0, 1), field(3, 0, addr)]
            if symbolized:
                if name == "work_x":  # pretend helper() was inlined into work_x
                    parts.append(field(4, 2, msg(field(1, 0, func_id("helper_inlined")),
                                                 field(2, 0, 7))))
                parts.append(field(4, 2, msg(field(1, 0, func_id(name)), field(2, 0, 10 + depth))))
            body.extend(field(4, 2, msg(*parts)))
        return locs[key]
    for names, count, group, test in STACKS:
        pcs = pcs_of(names, syms, BASE64)
        ids = [loc_id(p if i == 0 else p - 1, n, i) for i, (p, n) in enumerate(zip(pcs, names))]
        parts = [field(1, 2, b"".join(varint(x) for x in ids)),
                 field(2, 2, varint(count) + varint(count * PERIOD_US * 1000))]
        if test:
            parts.append(field(3, 2, msg(field(1, 0, s("test")), field(2, 0, s(test)))))
            parts.append(field(3, 2, msg(field(1, 0, s("group")), field(2, 0, s(group)))))
        body += field(2, 2, msg(*parts))
    body += field(14, 0, s("cpu"))
    for x in strings:
        body += field(6, 2, x.encode())
    data = bytes(body)
    if path.endswith(".gz"):
        data = gzip.compress(data)
    open(path, "wb").write(data)


def main():
    binary, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    syms = functions(binary)
    write_cpu(os.path.join(outdir, "cpu.prof"), binary, syms, BASE64, 8, False, True)
    write_cpu(os.path.join(outdir, "cpu32be.prof"), binary, syms, BASE32, 4, True, False)
    write_heap(os.path.join(outdir, "heap.heap"), binary, syms)
    write_proto(os.path.join(outdir, "unsym.pb.gz"), binary, syms, False)
    write_proto(os.path.join(outdir, "sym.pb"), binary, syms, True)
    json.dump([{"stack": n, "count": c, "group": g, "test": t} for n, c, g, t in STACKS],
              open(os.path.join(outdir, "truth.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
