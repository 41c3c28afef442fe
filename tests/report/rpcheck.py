"""Independent reader of the profile formats `heapscope report` reads, for
its tests: parses legacy heap text, legacy binary CPU profiles (with the
PATH.tests side file) and profile.proto (gzipped or not) with nothing shared
with the C code, and names frames through the profile's own symbols or, for
addresses, the mapped file's ELF symbol table (`nm`, `readelf`), which is
independent of the DWARF-based symbolizer under test.

Also parses the analyzer's text outputs (--top, --folded, --tests) so the
tests can compare numbers."""
import bisect
import gzip
import re
import struct
import subprocess

# ---- ELF symbols -------------------------------------------------------------

_seg_cache = {}
_sym_cache = {}


def load_segments(path):
    """PT_LOAD segments: (offset, vaddr, filesz)."""
    if path not in _seg_cache:
        segs = []
        try:
            out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
        except OSError:
            out = ""
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "LOAD":
                segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
        _seg_cache[path] = segs
    return _seg_cache[path]


def load_symbols(path):
    """Sorted (address, name) of defined function symbols (.symtab, else .dynsym)."""
    if path not in _sym_cache:
        syms = []
        for extra in ([], ["-D"]):
            try:
                out = subprocess.run(["nm", "--defined-only"] + extra + [path],
                                     capture_output=True, text=True).stdout
            except OSError:
                out = ""
            for line in out.splitlines():
                f = line.split()
                if len(f) >= 3 and f[1] in "TtWwi":
                    syms.append((int(f[0], 16), f[2]))
            if syms:
                break
        syms.sort()
        _sym_cache[path] = ([a for a, _ in syms], [n for _, n in syms])
    return _sym_cache[path]


def symbol_at(path, vaddr):
    addrs, names = load_symbols(path)
    i = bisect.bisect_right(addrs, vaddr) - 1
    return names[i] if i >= 0 else None


def parse_maps(text):
    """Executable mappings: (start, end, offset, path)."""
    maps = []
    for line in text.splitlines():
        m = re.match(r"\s*([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+(\S+)\s+([0-9a-fA-F]+)\s+\S+\s+\d+\s*(.*)$", line)
        if m and "x" in m.group(3):
            path = m.group(5).strip()
            if path.endswith(" (deleted)"):
                path = path[:-10]
            maps.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16), path))
    return maps


def name_address(maps, addr):
    """Function name of a lookup address through the maps and nm, or None."""
    for start, end, off, path in maps:
        if start <= addr < end:
            o = addr - start + off
            vaddr = o
            for poff, pvaddr, filesz in load_segments(path):
                if poff <= o < poff + filesz:
                    vaddr = o - poff + pvaddr
                    break
            return symbol_at(path, vaddr)
    return None


# ---- legacy heap -------------------------------------------------------------------

def read_bytes(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def parse_heap(path):
    """{'types': [...], 'samples': [([alloc_o, alloc_b, inuse_o, inuse_b], [lookup addr...])],
    'maps': [...]}"""
    text = read_bytes(path).decode("latin-1")
    lines = text.split("\n")
    hdr = re.match(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *heapprofile", lines[0])
    assert hdr, "not a heapprofile header: " + lines[0]
    samples, maps = [], []
    for i, line in enumerate(lines[1:], 1):
        if "MAPPED_LIBRARIES:" in line:
            maps = parse_maps("\n".join(lines[i + 1:]))
            break
        if not line.strip():
            continue
        m = re.match(r"\s*(-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *\] *@(.*)$", line)
        assert m, "bad sample line: " + line
        io, ib, ao, ab = (int(m.group(k)) for k in range(1, 5))
        pcs = [int(x, 16) for x in m.group(5).split()]
        samples.append(([ao, ab, io, ib], [pc - 1 if pc else 0 for pc in pcs]))
    return {"types": ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
            "samples": samples, "maps": maps, "names": None}


# ---- legacy CPU ---------------------------------------------------------------------

def parse_cpu(path, side=True):
    data = read_bytes(path)
    for size, code in ((8, "Q"), (4, "I")):
        for order in "<>":
            words = len(data) // size
            w = struct.unpack("%s%d%s" % (order, words, code), data[:words * size])
            if w[:3] == (0, 3, 0) and w[3] > 0 and w[4] == 0:
                break
        else:
            continue
        break
    else:
        raise AssertionError("not a legacy CPU profile")
    period = w[3] * 1000
    i, recs = 5, {}
    while True:
        count, n = w[i], w[i + 1]
        pcs = list(w[i + 2:i + 2 + n])
        i += 2 + n
        if count == 0 and n == 1 and pcs[0] == 0:
            break
        if len(pcs) > 1 and pcs[1] == pcs[0]:
            del pcs[1]
        key = (None, None, tuple(pcs[:1] + [p - 1 for p in pcs[1:]]))
        recs[key] = recs.get(key, 0) + count
    maps = parse_maps(data[i * size:].decode("latin-1"))
    try:
        tests = open(path + ".tests").read().split("\n") if side else None
    except FileNotFoundError:
        tests = None
    if tests:
        assert tests[0] == "heapscope test samples 1"
        group = name = None
        for line in tests[1:]:
            if line.startswith("test "):
                group, name = line[5:].split("\t", 1)
            elif line.strip():
                f = line.split()
                count = int(f[0])
                pcs = [int(x, 16) for x in f[1:]]
                if len(pcs) > 1 and pcs[1] == pcs[0]:
                    del pcs[1]
                stack = tuple(pcs[:1] + [p - 1 for p in pcs[1:]])
                recs[(None, None, stack)] -= count
                k = (group or None, name, stack)
                recs[k] = recs.get(k, 0) + count
    samples = []
    for (group, name, stack), count in recs.items():
        if count:
            samples.append(([count, count * period], list(stack), name, group))
    return {"types": ["samples", "cpu"], "samples": samples, "maps": maps, "period": period}


# ---- profile.proto ------------------------------------------------------------------

def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = struct.unpack("<Q", b[i:i + 8])[0], i + 8
        elif wt == 5:
            v, i = struct.unpack("<I", b[i:i + 4])[0], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def _ints(wt, v):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def _signed(x):
    return x - (1 << 64) if x >= 1 << 63 else x


def parse_proto(path):
    b = read_bytes(path)
    strings, types, samples, locs, funcs, mappings = [], [], [], {}, {}, {}
    default = 0
    raw_samples = []
    for num, wt, v in _fields(b):
        if num == 6:
            strings.append(v.decode("utf-8", "replace"))
    for num, wt, v in _fields(b):
        if num == 1:
            d = {n: x for n, _, x in _fields(v)}
            types.append(strings[d.get(1, 0)])
        elif num == 14:
            default = v
        elif num == 5:
            d = {n: x for n, _, x in _fields(v)}
            funcs[d[1]] = (strings[d.get(2, 0)], strings[d.get(4, 0)])
        elif num == 3:
            d = {n: x for n, _, x in _fields(v)}
            mappings[d[1]] = (d.get(2, 0), d.get(3, 0), d.get(4, 0), strings[d.get(5, 0)],
                              bool(d.get(7, 0)))
        elif num == 4:
            d, lines = {}, []
            for n, wt2, x in _fields(v):
                if n == 4:
                    ld = {n2: y for n2, _, y in _fields(x)}
                    lines.append((ld.get(1, 0), ld.get(2, 0)))
                else:
                    d[n] = x
            locs[d[1]] = (d.get(2, 0), d.get(3, 0), lines)
        elif num == 2:
            raw_samples.append(v)
    maps = [(s, e, o, p) for (s, e, o, p, _) in mappings.values()]
    for v in raw_samples:
        ids, vals, labels = [], [], {}
        for n, wt, x in _fields(v):
            if n == 1:
                ids += _ints(wt, x)
            elif n == 2:
                vals += [_signed(y) for y in _ints(wt, x)]
            elif n == 3:
                ld = {n2: y for n2, _, y in _fields(x)}
                if 2 in ld:
                    labels[strings[ld[1]]] = strings[ld[2]]
        samples.append((vals, ids, labels.get("test"), labels.get("group")))
    return {"types": types, "samples": samples, "locs": locs, "funcs": funcs, "maps": maps,
            "default": strings[default] if default else None}


# ---- stacks of function names ----------------------------------------------------------

def stacks(prof, proto=False):
    """[(values, [function names leaf first], test, group)]; unknown frames are
    named '?'. Proto locations expand to their lines (innermost first)."""
    out = []
    for s in prof["samples"]:
        vals, addrs = s[0], s[1]
        test = s[2] if len(s) > 2 else None
        group = s[3] if len(s) > 3 else None
        names = []
        for a in addrs:
            if proto:
                mid, addr, lines = prof["locs"][a]
                if lines:
                    names += [prof["funcs"][fid][0] for fid, _ in lines]
                    continue
                a = addr
            n = name_address(prof["maps"], a)
            names.append(n or "?")
        out.append((vals, names, test, group))
    return out


def flat_cum(stks, index, only=None):
    """Per function: (flat, cum) of value index; cum counts a stack once."""
    flat, cum = {}, {}
    for vals, names, test, group in stks:
        if only is not None and (test, group) != only:
            continue
        v = vals[index]
        if names:
            flat[names[0]] = flat.get(names[0], 0) + v
        for n in set(names):
            cum[n] = cum.get(n, 0) + v
    return flat, cum


# ---- analyzer outputs ----------------------------------------------------------------

def parse_top(text):
    """({name: (flat, cum)}, total) from `--top --unit=raw`."""
    rows, total = {}, None
    for line in text.splitlines():
        m = re.match(r"Showing nodes accounting for (-?\d+), .* of (-?\d+) total", line)
        if m:
            total = int(m.group(2))
            continue
        m = re.match(r"\s*(-?\d+)\s+\S+\s+\S+\s+(-?\d+)\s+\S+\s\s(.*)$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return rows, total


def parse_folded(text, diff=False):
    out = {}
    for line in text.splitlines():
        if diff:
            stack, a, b = line.rsplit(" ", 2)
            out[stack] = (int(a), int(b))
        else:
            stack, v = line.rsplit(" ", 1)
            out[stack] = out.get(stack, 0) + int(v)
    return out


def parse_tests(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*(-?\d+)\s+\S+\s+(\d+)\s\s(.*)$", line)
        if m:
            rows[m.group(3)] = int(m.group(1))
    return rows
