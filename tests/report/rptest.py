#!/usr/bin/env python3
"""`heapscope report` test driver: runs one case (tests/report/CMakeLists.txt
registers each as report.<case>). Numbers are checked against rpcheck.py's
independent parse of the same files and, where installed, go tool pprof.

Environment (set by CTest): HS_CLI (heapscope), HS_PROG / HS_PROG_O2
(rp_prog.c built -O0 / -O2), HS_PRELOAD (libheapscope.so), HS_FUZZ
(fuzz_report), HS_WORK (scratch), HS_SRC (this directory).
Exit status: 0 pass, 1 fail, 77 skipped (a needed tool is missing)."""
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpcheck  # noqa: E402

CASE = sys.argv[1]
CLI, PROG, PROG_O2 = os.environ["HS_CLI"], os.environ["HS_PROG"], os.environ["HS_PROG_O2"]
PRELOAD, FUZZ, SRC = os.environ["HS_PRELOAD"], os.environ["HS_FUZZ"], os.environ["HS_SRC"]
W = os.path.join(os.environ["HS_WORK"], CASE)
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
os.chdir(W)
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("HEAP", "CPUPROFILE", "LD_PRELOAD"))}
LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so"
LIBTCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"
MAIN_FUNCS = {"main", "path_a", "path_b", "work_x", "work_y", "work_z", "rec", "alloc_small",
              "alloc_big", "alloc_freed", "rec_alloc", "heap_pattern", "other_caller",
              "leak_some", "now_ms"}


def fail(msg):
    print("FAIL (%s): %s" % (CASE, msg), file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print("SKIP (%s): %s" % (CASE, msg), file=sys.stderr)
    sys.exit(77)


def note(msg):
    print("[%s] %s" % (CASE, msg), file=sys.stderr)


def run(cmd, env=None, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env or CLEAN_ENV, **kw)
    if check and r.returncode != 0:
        fail("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r


def report(*args, env=None):
    r = run([CLI, "report"] + list(args), env=env)
    if "heapscope: " in r.stderr and "warning" not in r.stderr:
        fail("unexpected stderr for %s:\n%s" % (args, r.stderr))
    return r.stdout


def expect(cond, msg):
    if not cond:
        fail(msg)


def have_go():
    return shutil.which("go") and run(["go", "tool", "pprof", "-h"], check=False).returncode in (0, 2)


UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "B": 1, "kB": 1024, "MB": 1024 ** 2,
         "GB": 1024 ** 3, "": 1}


def go_top(*args):
    """{name: (flat, cum)} from `go tool pprof -top`, all nodes, units converted."""
    env = dict(CLEAN_ENV, PPROF_TMPDIR=W, HOME=W)
    r = run(["go", "tool", "pprof", "-top", "-nodefraction=0", "-edgefraction=0",
             "-nodecount=10000"] + list(args), env=env)
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(-?[\d.]+)([a-zA-Z]*)\s+\S+\s+\S+\s+(-?[\d.]+)([a-zA-Z]*)\s+\S+\s\s(.*)$", line)
        if m and m.group(2) in UNITS and m.group(4) in UNITS:
            rows[m.group(5)] = (round(float(m.group(1)) * UNITS[m.group(2)]),
                                round(float(m.group(3)) * UNITS[m.group(4)]))
    return rows


def check_top(path, stks, index, tname, extra=(), funcs=None, exact_total=True):
    """Our --top for sample type tname equals the independent flat/cum."""
    flat, cum = rpcheck.flat_cum(stks, index)
    out = report(path, "--top", "--unit=raw", "--nodecount=0", "--sample=" + tname, *extra)
    rows, total = rpcheck.parse_top(out)
    want_total = sum(s[0][index] for s in stks)
    if exact_total:
        expect(total == want_total, "%s %s: total %s, expected %s\n%s" % (path, tname, total, want_total, out))
    names = funcs if funcs is not None else {n for n in cum if n in MAIN_FUNCS or n == "helper_inlined"}
    for n in names:
        if n == "?":
            continue
        got = rows.get(n, (0, 0))
        want = (flat.get(n, 0), cum.get(n, 0))
        expect(got == want, "%s %s: %s is %s, expected %s\n%s" % (path, tname, n, got, want, out))
    return rows, total


# go pprof takes a second per call here: compared on one count and one size type
GO_TYPES = ("inuse_space", "alloc_objects")


def check_go(path, binary, index_name, ours, funcs, extra=()):
    if not have_go():
        note("go tool pprof not installed: skipping the pprof comparison")
        return
    args = ["-sample_index=" + index_name] + list(extra) + ([binary] if binary else []) + [path]
    g = go_top(*args)
    for n in funcs:
        if n in ours or n in g:
            expect(g.get(n, (0, 0)) == ours.get(n, (0, 0)),
                   "go pprof disagrees on %s (%s): go %s, ours %s" % (n, index_name, g.get(n), ours.get(n)))
    note("go pprof agrees on %d functions (%s)" % (len([n for n in funcs if n in g]), index_name))


def gen():
    run([sys.executable, os.path.join(SRC, "gen_profiles.py"), PROG, "syn"])
    return json.load(open("syn/truth.json"))


def one_line_error(r, *needles):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    expect(r.returncode == 2, "exit status %d, expected 2 (stderr: %s)" % (r.returncode, r.stderr))
    expect(len(lines) == 1 and lines[0].startswith("heapscope: "),
           "expected one 'heapscope: ' line, got:\n%s" % r.stderr)
    for n in needles:
        expect(n in lines[0], "error line lacks %r: %s" % (n, lines[0]))
    return lines[0]


# ---- cases --------------------------------------------------------------------------

def case_synthetic():
    truth = gen()
    total = sum(t["count"] for t in truth)
    cpu = rpcheck.stacks(rpcheck.parse_cpu("syn/cpu.prof"))
    expect(sum(s[0][0] for s in cpu) == total, "independent parse of cpu.prof disagrees with truth")
    for path, prof in (("syn/cpu.prof", cpu),
                       ("syn/cpu32be.prof", rpcheck.stacks(rpcheck.parse_cpu("syn/cpu32be.prof"))),
                       ("syn/unsym.pb.gz", rpcheck.stacks(rpcheck.parse_proto("syn/unsym.pb.gz"), True)),
                       ("syn/sym.pb", rpcheck.stacks(rpcheck.parse_proto("syn/sym.pb"), True))):
        for i, t in enumerate(("samples", "cpu")):
            check_top(path, prof, i, t)
        note("%s: top matches the independent parse" % path)
    heap = rpcheck.stacks(rpcheck.parse_heap("syn/heap.heap"))
    for i, t in enumerate(("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")):
        check_top("syn/heap.heap", heap, i, t)
    # default sample types
    expect("Type: cpu" in report("syn/cpu.prof"), "CPU default type is not cpu")
    expect("Type: inuse_space" in report("syn/heap.heap"), "heap default type is not inuse_space")
    # folded: every stack exactly, root first
    want = {}
    for vals, names, _, _ in cpu:
        k = ";".join(reversed(names))
        want[k] = want.get(k, 0) + vals[0]
    got = rpcheck.parse_folded(report("syn/cpu.prof", "--folded", "--sample=samples"))
    expect(got == want, "folded stacks differ:\n%s\nexpected\n%s" % (got, want))
    # traces: one block per distinct stack
    tr = report("syn/cpu.prof", "--traces", "--unit=raw", "--sample=samples")
    ntraces = len({(tuple(n), t, g) for _, n, t, g in cpu})
    expect(tr.count("-----------+") == ntraces + 1, "traces: wrong number of stacks\n" + tr)
    # focus / ignore
    rows, tot = rpcheck.parse_top(report("syn/cpu.prof", "--unit=raw", "--sample=samples", "--focus=^path_a$"))
    expect(tot == sum(v[0] for v, n, _, _ in cpu if "path_a" in n), "focus total %s" % tot)
    rows, tot = rpcheck.parse_top(report("syn/cpu.prof", "--unit=raw", "--sample=samples", "--ignore=^rec$"))
    expect(tot == sum(v[0] for v, n, _, _ in cpu if "rec" not in n), "ignore total %s" % tot)
    expect("rec" not in rows, "ignored function still shown")
    # --cum ordering and --nodecount
    out = report("syn/cpu.prof", "--cum", "--nodecount=2", "--unit=raw")
    names = [l.split()[-1] for l in out.splitlines() if re.match(r"\s*\d", l)]
    expect(names == ["main", "work_x"], "--cum --nodecount=2 rows: %s" % names)
    # several profiles add up
    rows, tot = rpcheck.parse_top(report("syn/cpu.prof", "syn/cpu32be.prof", "--unit=raw", "--sample=samples"))
    expect(tot == 2 * total, "two profiles: total %s, expected %s" % (tot, 2 * total))
    # --lines / --files / --addresses granularity keep the total
    for g in ("--lines", "--files", "--addresses"):
        _, tot = rpcheck.parse_top(report("syn/cpu.prof", g, "--unit=raw", "--sample=samples"))
        expect(tot == total, "%s total %s" % (g, tot))
    if have_go():
        ours, _ = rpcheck.parse_top(report("syn/cpu.prof", "--unit=raw", "--nodecount=0"))
        check_go("syn/cpu.prof", PROG, "cpu", ours, MAIN_FUNCS, ["-unit=ns"])
        ours, _ = rpcheck.parse_top(report("syn/heap.heap", "--unit=raw", "--nodecount=0",
                                           "--sample=alloc_space"))
        check_go("syn/heap.heap", PROG, "alloc_space", ours, MAIN_FUNCS, ["-unit=B"])


def case_formats_gzip():
    """gzip over every format, and the same numbers either way."""
    gen()
    import gzip
    for name in ("cpu.prof", "heap.heap", "sym.pb"):
        data = open("syn/" + name, "rb").read()
        open("syn/gz_" + name, "wb").write(gzip.compress(data))
        a = report("syn/" + name, "--unit=raw", "--nodecount=0").split("\n", 1)[1]
        b = report("syn/gz_" + name, "--unit=raw", "--nodecount=0").split("\n", 1)[1]
        expect(a == b, "gzipped %s reads differently" % name)
    # a pipe works too
    r = subprocess.run("cat syn/heap.heap | %s report --unit=raw /dev/stdin" % CLI, shell=True,
                       capture_output=True, text=True)
    expect(r.returncode == 0 and "of 16398 total" in r.stdout, "reading a pipe: " + r.stdout + r.stderr)


def case_inline():
    """Frames of inlined code: ours against addr2line -i on an -O2 build."""
    out = run(["nm", "-S", "--defined-only", PROG_O2]).stdout
    lo = size = None
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] == "probe_outer":
            lo, size = int(f[0], 16), int(f[1], 16)
    expect(lo is not None, "probe_outer not in the -O2 build")
    chosen = None
    for a in range(lo, lo + size):
        r = run(["addr2line", "-f", "-i", "-e", PROG_O2, hex(a)]).stdout.split("\n")
        frames = [(r[i], r[i + 1]) for i in range(0, len(r) - 1, 2)]
        if len(frames) >= 3 and frames[0][0] == "probe_inner":
            chosen, want = a, frames
            break
    expect(chosen is not None, "no address inside inlined probe_inner")
    base = 0x555555554000
    import struct
    addrs, names = rpcheck.load_symbols(PROG_O2)
    main_addr = addrs[names.index("main")]
    with open("inl.prof", "wb") as f:
        f.write(struct.pack("<5Q", 0, 3, 0, 10000, 0))
        f.write(struct.pack("<4Q", 5, 2, base + chosen, base + main_addr + 9))
        f.write(struct.pack("<3Q", 0, 1, 0))
        for off, vaddr, filesz in rpcheck.load_segments(PROG_O2):
            f.write(("%x-%x r-xp %08x 08:01 1 %s\n" % (base + (vaddr & ~0xfff),
                     base + ((vaddr + filesz + 0xfff) & ~0xfff), off & ~0xfff, PROG_O2)).encode())
    tr = report("inl.prof", "--traces", "--lines")
    got = [l.strip() for l in tr.splitlines() if l.strip() and not l.startswith(("File", "Type", "---"))]
    got[0] = got[0].split(None, 1)[1]  # drop the value column
    for (fn, loc), line in zip(want, got):
        file, _, lineno = loc.rpartition(":")
        lineno = lineno.split()[0]
        expect(line.startswith(fn + " ") and line.endswith(":" + lineno) and
               os.path.basename(file) in line,
               "inline frames differ from addr2line -i:\nours:\n%s\naddr2line:\n%s" % ("\n".join(got), want))
    expect(len(got) >= len(want), "fewer frames than addr2line: %s vs %s" % (got, want))
    note("inlined frames match addr2line: %s" % [f for f, _ in want])


def split_debug(binary, dbg):
    run(["objcopy", "--only-keep-debug", binary, dbg])
    stripped = os.path.join(W, "stripped_" + os.path.basename(binary))
    run(["objcopy", "--strip-all", "--add-gnu-debuglink=" + dbg, binary, stripped])
    return stripped


def build_id(path):
    out = run(["readelf", "-n", path]).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def case_debuglink():
    """A stripped binary with its symbols in a separate .gnu_debuglink file."""
    if not shutil.which("objcopy"):
        skip("objcopy not installed")
    os.makedirs("dbgdir")
    stripped = split_debug(PROG, os.path.join(W, "dbgdir", "rp_prog.debug"))
    # gen_profiles needs symbols: write the profile from the unstripped binary
    # (same layout) and point its maps at the stripped copy.
    run([sys.executable, os.path.join(SRC, "gen_profiles.py"), PROG, "syn"])
    data = open("syn/heap.heap").read().replace(os.path.abspath(PROG), stripped)
    open("stripped.heap", "w").write(data)
    r = run([CLI, "report", "--unit=raw", "stripped.heap"], check=False)
    expect("work_x" not in r.stdout, "a stripped binary without its debug file still named work_x?")
    env = dict(CLEAN_ENV, HEAPSCOPE_DEBUGINFO_PATH=os.path.join(W, "dbgdir"))
    out = report("--lines", "--unit=raw", "stripped.heap", env=env)
    expect(re.search(r"work_x \S*rp_prog\.c:\d+", out), "debuglink file not used:\n" + out)
    note("symbols and lines from the .gnu_debuglink file")


def case_buildid():
    """A proto mapping with a build-id whose binary is gone: the debug file
    found by build-id under HEAPSCOPE_DEBUGINFO_PATH names the frames; a
    binary of another build at the mapped path is refused."""
    bid = build_id(PROG)
    if not bid:
        skip("rp_prog has no build-id")
    run([sys.executable, os.path.join(SRC, "gen_profiles.py"), PROG, "syn"])
    gone = os.path.join(W, "gone", "rp_prog")
    os.makedirs(os.path.dirname(gone))
    sys.path.insert(0, SRC)
    import gen_profiles
    gen_profiles.write_proto("nobin.pb", PROG, gen_profiles.functions(PROG), False,
                             mapped_path=gone, build_id=bid)
    r = run([CLI, "report", "--unit=raw", "nobin.pb"], check=False)
    expect(r.returncode == 0 and "work_x" not in r.stdout, "named frames without any file?\n" + r.stdout)
    expect("cannot symbolize" in r.stderr, "no warning about the missing binary: " + r.stderr)
    dbg = os.path.join(W, "debug", ".build-id", bid[:2], bid[2:] + ".debug")
    os.makedirs(os.path.dirname(dbg))
    run(["objcopy", "--only-keep-debug", PROG, dbg])
    env = dict(CLEAN_ENV, HEAPSCOPE_DEBUGINFO_PATH=os.path.join(W, "debug"))
    out = report("--unit=raw", "--nodecount=0", "nobin.pb", env=env)
    expect("work_x" in out and "path_b" in out, "build-id debug file not used:\n" + out)
    # a different build at the mapped path: refused by build-id
    shutil.copy(PROG_O2, gone)
    r = run([CLI, "report", "--unit=raw", "nobin.pb"], check=False)
    expect("build-id differs" in r.stderr and "work_x" not in r.stdout,
           "a binary with another build-id was used:\n" + r.stdout + r.stderr)
    note("build-id lookup and mismatch refusal work")


def case_cpu_gperftools():
    if not os.path.exists(LIBPROFILER):
        skip("gperftools' libprofiler not installed")
    env = dict(CLEAN_ENV, LD_PRELOAD=LIBPROFILER, CPUPROFILE=os.path.join(W, "g.prof"),
               CPUPROFILE_FREQUENCY="250")
    run([PROG, "cpu", "400"], env=env)
    prof = rpcheck.stacks(rpcheck.parse_cpu("g.prof"))
    expect(sum(s[0][0] for s in prof) >= 20, "too few samples in the gperftools profile")
    ours, _ = check_top("g.prof", prof, 1, "cpu", funcs=MAIN_FUNCS & {n for s in prof for n in s[1]})
    check_top("g.prof", prof, 0, "samples", funcs=MAIN_FUNCS & {n for s in prof for n in s[1]})
    check_go("g.prof", PROG, "cpu", ours, MAIN_FUNCS - {"now_ms"}, ["-unit=ns"])


# Exact numbers of `rp_prog heap 1`: (objects, bytes) of the leaf functions.
HEAP_INUSE = {"alloc_small": (15, 1200), "alloc_big": (2, 2 << 20), "rec_alloc": (1, 512)}
HEAP_ALLOC = {"alloc_small": (15, 1200), "alloc_big": (2, 2 << 20), "alloc_freed": (20, 60000),
              "rec_alloc": (1, 512)}


def check_heap_known(path, extra=()):
    for i, t in enumerate(("inuse_objects", "inuse_space")):
        rows, _ = rpcheck.parse_top(report(path, "--unit=raw", "--nodecount=0", "--sample=" + t, *extra))
        for fn, v in HEAP_INUSE.items():
            expect(rows.get(fn, (0, 0))[0] == v[i], "%s %s: %s flat %s, expected %s" % (path, t, fn, rows.get(fn), v[i]))
    for i, t in enumerate(("alloc_objects", "alloc_space")):
        rows, _ = rpcheck.parse_top(report(path, "--unit=raw", "--nodecount=0", "--sample=" + t, *extra))
        for fn, v in HEAP_ALLOC.items():
            expect(rows.get(fn, (0, 0))[0] == v[i], "%s %s: %s flat %s" % (path, t, fn, rows.get(fn)))
        want = (33, 1000 + (2 << 20) + 60000 + 512)[i]  # other_caller's 5 blocks are not below it
        expect(rows["heap_pattern"][1] == want, "heap_pattern cum %s, expected %s" % (rows["heap_pattern"], want))


def heapscope_profile(name, *args, proto=False):
    env = dict(CLEAN_ENV, LD_PRELOAD=PRELOAD, HEAPPROFILE=os.path.join(W, name))
    if proto:
        env["HEAPSCOPE_PROFILE_FORMAT"] = "proto"
    run([PROG, "heap"] + list(args), env=env)
    for ext in (".0001.heap", ".0001.pb.gz", ".0001.pb"):
        if os.path.exists(name + ext):
            return name + ext
    fail("no heap profile written")


def case_heap_heapscope():
    path = heapscope_profile("h")
    prof = rpcheck.stacks(rpcheck.parse_heap(path))
    funcs = MAIN_FUNCS & {n for s in prof for n in s[1]}
    for i, t in enumerate(("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")):
        ours, _ = check_top(path, prof, i, t, funcs=funcs)
        if t in GO_TYPES:
            check_go(path, PROG, t, ours, funcs, ["-unit=B"] if "space" in t else [])
    check_heap_known(path)


def case_heap_proto():
    path = heapscope_profile("hp", proto=True)
    prof = rpcheck.stacks(rpcheck.parse_proto(path), True)
    for i, t in enumerate(("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")):
        ours, _ = check_top(path, prof, i, t)
        if t in GO_TYPES:
            check_go(path, None, t, ours, MAIN_FUNCS, ["-unit=B"] if "space" in t else [])
    check_heap_known(path)
    # proto and legacy of two runs name frames alike: the diff is empty
    legacy = heapscope_profile("hl")
    rows, tot = rpcheck.parse_top(report(legacy, "--base=" + path, "--unit=raw", "--nodecount=0", "--lines"))
    expect(tot == 0 and all(v == (0, 0) for k, v in rows.items() if k.split()[0] in MAIN_FUNCS),
           "legacy minus proto of the same program is not empty: %s" % rows)


def case_heap_gperftools():
    if not os.path.exists(LIBTCMALLOC):
        skip("gperftools' libtcmalloc not installed")
    env = dict(CLEAN_ENV, LD_PRELOAD=LIBTCMALLOC, HEAPPROFILE=os.path.join(W, "g"))
    run([PROG, "heap"], env=env)
    path = "g.0001.heap"
    prof = rpcheck.stacks(rpcheck.parse_heap(path))
    funcs = MAIN_FUNCS & {n for s in prof for n in s[1]}
    for i, t in enumerate(("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")):
        ours, _ = check_top(path, prof, i, t, funcs=funcs)
        if t in GO_TYPES:
            check_go(path, PROG, t, ours, funcs, ["-unit=B"] if "space" in t else [])
    check_heap_known(path)


def case_leak_profile():
    env = dict(CLEAN_ENV, LD_PRELOAD=PRELOAD, HEAPCHECK="normal",
               HEAPSCOPE_LEAK_PROFILE=os.path.join(W, "leaks.heap"))
    r = run([PROG, "leak"], env=env, check=False)
    expect(r.returncode == 1 and os.path.exists("leaks.heap"), "leak run: %d %s" % (r.returncode, r.stderr))
    prof = rpcheck.stacks(rpcheck.parse_heap("leaks.heap"))
    check_top("leaks.heap", prof, 3, "inuse_space")
    rows, tot = rpcheck.parse_top(report("leaks.heap", "--unit=raw", "--nodecount=0"))
    expect(rows.get("alloc_small", (0,))[0] == 192 and rows.get("alloc_big", (0,))[0] == 4096 and
           rows.get("leak_some", (0, 0))[1] == 4288 and tot == 4288, "leak numbers: %s %s" % (rows, tot))


def case_base_diff():
    a = heapscope_profile("a", "1")
    b = heapscope_profile("b", "2")
    pa = rpcheck.stacks(rpcheck.parse_heap(a))
    pb = rpcheck.stacks(rpcheck.parse_heap(b))
    for i, t in enumerate(("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")):
        fa, ca = rpcheck.flat_cum(pa, i)
        fb, cb = rpcheck.flat_cum(pb, i)
        rows, tot = rpcheck.parse_top(report(b, "--base=" + a, "--unit=raw", "--nodecount=0", "--sample=" + t))
        for fn in MAIN_FUNCS & (set(ca) | set(cb)):
            want = (fb.get(fn, 0) - fa.get(fn, 0), cb.get(fn, 0) - ca.get(fn, 0))
            expect(rows.get(fn, (0, 0)) == want, "%s: %s diff %s, expected %s" % (t, fn, rows.get(fn), want))
    # the two runs load at different addresses (ASLR) yet every frame matched:
    # the diff has no address-named frames
    out = report(b, "--base=" + a, "--traces")
    expect("0x" not in out.split("-----", 1)[1], "unmatched frames in the diff:\n" + out)
    # differential folded: stack BASE NEW
    d = rpcheck.parse_folded(report(b, "--base=" + a, "--folded"), diff=True)
    k = [s for s in d if s.endswith(";alloc_big")]
    expect(k and d[k[0]] == (2 << 20, 4 << 20), "differential folded alloc_big: %s" % d)
    r = run([CLI, "report", "--base=" + a, "--addresses", b], check=False)
    one_line_error(r, "--addresses")


def case_svg():
    gen()
    prof = rpcheck.stacks(rpcheck.parse_cpu("syn/cpu.prof"))
    svg = report("syn/cpu.prof", "--svg", "--sample=samples")
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    expect(root.tag == ns + "svg", "not an SVG root")
    scripts = root.findall(ns + "script")
    expect(len(scripts) == 1 and "function zoom" in scripts[0].text and "function search" in scripts[0].text
           and "keydown" in scripts[0].text, "no inline zoom/search script")
    expect(not re.search(r"(href|src)\s*=", svg) and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""), "the SVG references something outside itself")
    expect(root.find(".//*[@id='search']") is not None and root.find(".//*[@id='reset']") is not None,
           "no search / reset controls")
    frames = []
    for g in root.iter(ns + "g"):
        if g.get("class") != "f":
            continue
        r = g.find(ns + "rect")
        title = g.find(ns + "title").text
        frames.append({"name": title[:title.rindex(" (")], "v": int(g.get("data-v")),
                       "x": float(r.get("x")), "y": float(r.get("y")), "w": float(r.get("width"))})
    total = sum(s[0][0] for s in prof)
    rootf = [f for f in frames if f["name"] == "all"]
    expect(len(rootf) == 1 and rootf[0]["v"] == total, "root frame 'all' is not the total")
    width = rootf[0]["w"]
    # rebuild each frame's path from geometry: its parent is the frame one row
    # below whose x-range contains it
    frames.sort(key=lambda f: -f["y"])
    for f in frames:
        expect(abs(f["w"] - f["v"] / total * width) < 0.02, "frame %s width %s for value %s" % (f["name"], f["w"], f["v"]))
        if f is rootf[0]:
            f["path"] = ()
            continue
        parents = [p for p in frames if abs(p["y"] - f["y"] - 16) < 0.01 and
                   p["x"] - 0.01 <= f["x"] and f["x"] + f["w"] <= p["x"] + p["w"] + 0.02]
        expect(len(parents) == 1, "frame %s has %d parents" % (f["name"], len(parents)))
        f["path"] = parents[0]["path"] + (f["name"],)
    want = {}
    for vals, names, _, _ in prof:
        path = tuple(reversed(names))
        for i in range(1, len(path) + 1):
            want[path[:i]] = want.get(path[:i], 0) + vals[0]
    got = {f["path"]: f["v"] for f in frames if f["path"]}
    expect(got == want, "flame graph frames differ:\n%s\nexpected\n%s" % (got, want))
    note("svg: %d frames, paths and widths right" % len(frames))
    # the script itself: zoom, reset and search, run in node against the frames
    node = shutil.which("node") or shutil.which("nodejs")
    if node:
        order = []
        for g in root.iter(ns + "g"):
            if g.get("class") == "f":
                r = g.find(ns + "rect")
                t = g.find(ns + "title").text
                order.append({"name": t[:t.rindex(" (")], "title": t, "x": float(r.get("x")),
                              "y": float(r.get("y")), "w": float(r.get("width")), "fill": r.get("fill")})
        flat, cum = rpcheck.flat_cum(prof, 0)
        job = {"script": scripts[0].text, "frames": order, "target": "path_b", "query": "^work_x$",
               "expect_matched": 100.0 * cum["work_x"] / total}
        r = run([node, os.path.join(SRC, "svg_script_check.js")], input=json.dumps(job))
        expect(r.stdout.strip() == "ok", "svg script check: " + r.stdout + r.stderr)
        note("svg script: zoom, reset and search work (node)")
    else:
        note("node not installed: the script's behaviour is not exercised")
    # differential: red where it grew, blue where it shrank
    a = heapscope_profile("a", "1")
    b = heapscope_profile("b", "2")
    d = ET.fromstring(report(b, "--base=" + a, "--svg", "--sample=inuse_space"))
    colors = {}
    for g in d.iter(ns + "g"):
        if g.get("class") == "f":
            t = g.find(ns + "title").text
            colors[t[:t.rindex(" (")]] = (g.find(ns + "rect").get("fill"), int(g.get("data-v")), int(g.get("data-b")))
    fill, v, base = colors["alloc_big"]
    expect(v == 4 << 20 and base == 2 << 20 and fill.startswith("rgb(255,"), "alloc_big not red: %s" % (colors["alloc_big"],))
    # --tests: tests are the first level
    t = ET.fromstring(report("syn/cpu.prof", "--svg", "--tests"))
    names = {g.find(ns + "title").text.split(" (")[0] for g in t.iter(ns + "g") if g.get("class") == "f"}
    expect({"g1/t_alpha", "g2/t_beta", "(outside tests)"} <= names, "test frames missing: %s" % names)


def case_callgrind():
    gen()
    prof = rpcheck.stacks(rpcheck.parse_cpu("syn/cpu.prof"))
    out = report("syn/cpu.prof", "--callgrind", "--sample=samples")
    open("cg.out", "w").write(out)
    total = sum(s[0][0] for s in prof)
    expect(re.search(r"^events: samples$", out, re.M) and re.search(r"^summary: %d$" % total, out, re.M),
           "callgrind header")
    # self costs add up to the total; inclusive cost of calls main -> path_a is cum(path_a)
    self_sum, fn, cfn, incl = 0, None, None, {}
    names = {}
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        l = lines[i]
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", l)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                fn, cfn = names[m.group(2)], None
            else:
                cfn = names[m.group(2)]
        elif l.startswith("calls="):
            cost = int(lines[i + 1].split()[1])
            incl[(fn, cfn)] = incl.get((fn, cfn), 0) + cost
            i += 1
            cfn = None
        elif re.match(r"^\d+ -?\d+$", l) and fn:
            self_sum += int(l.split()[1])
        i += 1
    expect(self_sum == total, "self costs add up to %d, not %d" % (self_sum, total))
    flat, cum = rpcheck.flat_cum(prof, 0)
    expect(incl.get(("main", "path_a")) == cum["path_a"], "main->path_a inclusive %s, cum %s" % (incl.get(("main", "path_a")), cum["path_a"]))
    # recursion counted once per stack
    expect(incl.get(("rec", "rec")) == cum["rec"] - sum(v[0] for v, n, _, _ in prof if n[0] == "rec" and n.count("rec") == 1),
           "rec->rec inclusive %s" % incl.get(("rec", "rec")))
    if shutil.which("callgrind_annotate"):
        r = run(["callgrind_annotate", "cg.out"])
        expect(re.search(r"%s\s.*PROGRAM TOTALS" % format(total, ","), r.stdout) or
               re.search(r"^%s\s" % format(total, ","), r.stdout, re.M),
               "callgrind_annotate did not read the total:\n" + r.stdout[:2000])
        note("callgrind_annotate reads it")


def case_proto_out():
    gen()
    for src, types in (("syn/cpu.prof", ("samples", "cpu")),
                       ("syn/heap.heap", ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space"))):
        run([CLI, "report", "--proto", "-o", "out.pb.gz", src])
        p = rpcheck.parse_proto("out.pb.gz")
        expect(p["types"] == list(types), "proto sample types %s" % p["types"])
        stks = rpcheck.stacks(p, True)
        for i, t in enumerate(types):
            check_top("out.pb.gz", stks, i, t)
            ours, _ = rpcheck.parse_top(report(src, "--unit=raw", "--nodecount=0", "--sample=" + t))
            theirs, _ = rpcheck.parse_top(report("out.pb.gz", "--unit=raw", "--nodecount=0", "--sample=" + t))
            expect(ours == theirs, "%s: --proto output reads differently (%s)" % (src, t))
            if t in GO_TYPES or t == "cpu":
                check_go("out.pb.gz", None, t, ours, MAIN_FUNCS, ["-unit=B"] if "space" in t else
                     ["-unit=ns"] if t == "cpu" else [])
    # test labels survive
    run([CLI, "report", "--proto", "-o", "t.pb.gz", "syn/cpu.prof"])
    labels = {(s[3], s[2]) for s in rpcheck.parse_proto("t.pb.gz")["samples"]}
    expect({("g1", "t_alpha"), ("g2", "t_beta"), ("g1", "t_gamma"), (None, None)} == labels,
           "labels: %s" % labels)
    # not to a terminal; fine to a pipe
    r = subprocess.run("%s report --proto syn/cpu.prof | gzip -dc | wc -c" % CLI, shell=True,
                       capture_output=True, text=True)
    expect(r.returncode == 0 and int(r.stdout) > 100, "proto to a pipe: " + r.stderr)


def case_list():
    path = heapscope_profile("hp", proto=True)
    src = open(os.path.join(SRC, "rp_prog.c")).read().split("\n")
    out = report("--list=^alloc_small$", "--unit=raw", "--sample=inuse_objects", path)
    expect(re.search(r"ROUTINE =+ alloc_small in \S*rp_prog\.c", out), "no ROUTINE header:\n" + out)
    line_no = next(i + 1 for i, l in enumerate(src) if "alloc_small(size_t n)" in l)
    m = re.search(r"^\s*(\S+)\s+(\S+)\s+%d: (.*)$" % line_no, out, re.M)
    expect(m and m.group(1) == "15" and "malloc(n)" in m.group(3),
           "line %d of alloc_small not annotated with 15:\n%s" % (line_no, out))
    out = report("--list=^heap_pattern$", "--unit=raw", "--sample=inuse_space", path)
    big = next(i + 1 for i, l in enumerate(src) if "alloc_big(1 << 20)" in l)
    m = re.search(r"^\s*(\S+)\s+(\S+)\s+%d: (.*)$" % big, out, re.M)
    expect(m and m.group(1) == "." and m.group(2) == str(2 << 20), "heap_pattern line %d:\n%s" % (big, out))
    r = run([CLI, "report", "--list=^no_such_function$", path], check=False)
    one_line_error(r, "no function")


def case_tests_split():
    gen()
    truth = gen()
    per = {}
    outside = 0
    for t in truth:
        if t["test"]:
            k = "%s/%s" % (t["group"], t["test"])
            per[k] = per.get(k, 0) + t["count"]
        else:
            outside += t["count"]
    for path in ("syn/cpu.prof", "syn/unsym.pb.gz", "syn/sym.pb"):
        rows = rpcheck.parse_tests(report(path, "--tests", "--unit=raw", "--sample=samples"))
        want = dict(per, **{"(outside tests)": outside})
        expect(rows == want, "%s --tests: %s, expected %s" % (path, rows, want))
        for k, v in per.items():
            _, tot = rpcheck.parse_top(report(path, "--test=" + k, "--unit=raw", "--sample=samples"))
            expect(tot == v, "%s --test=%s total %s, expected %s" % (path, k, tot, v))
        _, tot = rpcheck.parse_top(report(path, "--test=t_beta", "--unit=raw", "--sample=samples"))
        expect(tot == per["g2/t_beta"], "--test=NAME without group")
        # per-test sections of --top
        out = report(path, "--tests", "--top", "--unit=raw", "--sample=samples")
        expect(out.count("Test: ") == len(per) + 1, "--tests --top sections:\n" + out)
    # the main profile without its side file: all samples, no tests
    os.rename("syn/cpu.prof.tests", "syn/side")
    rows = rpcheck.parse_tests(report("syn/cpu.prof", "--tests", "--unit=raw", "--sample=samples"))
    expect(rows == {"(outside tests)": outside + sum(per.values())}, "without side file: %s" % rows)
    # folded with tests as root frames
    os.rename("syn/side", "syn/cpu.prof.tests")
    f = rpcheck.parse_folded(report("syn/cpu.prof", "--folded", "--tests", "--sample=samples"))
    expect(sum(v for k, v in f.items() if k.startswith("g2/t_beta;")) == per["g2/t_beta"], "folded --tests")
    r = run([CLI, "report", "--test=nope", "syn/cpu.prof"], check=False)
    one_line_error(r, "--test=nope")


def bad(path, *needles, args=()):
    r = run([CLI, "report"] + list(args) + [path], check=False)
    line = one_line_error(r, path, *needles)
    expect("Traceback" not in r.stderr and r.stdout == "", "output on error: " + r.stdout)
    return line


def case_bad_input():
    gen()
    cpu = open("syn/cpu.prof", "rb").read()
    heap = open("syn/heap.heap", "rb").read()
    proto = open("syn/sym.pb", "rb").read()
    import gzip
    cases = {
        "empty": (b"", "empty"),
        "cpu_cut_record": (cpu[:40 + 8 * 5], "truncated"),
        "cpu_no_trailer": (cpu[:cpu.index(b"\x00" * 8 + b"\x01" + b"\x00" * 7)], "truncated"),
        "cpu_header_only": (cpu[:40], "truncated"),
        "cpu_huge_depth": (cpu[:40] + (1).to_bytes(8, "little") + (1 << 40).to_bytes(8, "little"), "frames"),
        "heap_cut": (heap[:30], "header"),
        "heap_bad_line": (heap.replace(b"@ 0x", b"@ zz", 1), "line 2"),
        "heap_zero_count": (re.sub(rb"\[ *\d+:", b"[     0:", heap, count=2), "line 2"),
        "heap_type": (heap.replace(b"heapprofile", b"heapbogus", 1), "unknown heap profile type"),
        "proto_cut": (proto[:len(proto) // 2], "protobuf"),
        "proto_last_byte": (proto[:-1], "protobuf"),
        "proto_bad_index": (proto + b"\x70" + b"\xff\x7f", "string index"),
        "gzip_cut": (gzip.compress(heap)[:60], "gzip"),
        "gzip_corrupt": (gzip.compress(heap)[:20] + b"\x00" * 40 + gzip.compress(heap)[60:], "gzip"),
        "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a"),
        "json": (b'{"tests": []}\n', "holds test statistics or a leak report"),
        "text": (b"hello world\n", "not a profile"),
    }
    for name, (data, needle) in cases.items():
        open(name, "wb").write(data)
        line = bad(name, needle)
        note("%s: %s" % (name, line))
    for k in range(len(cpu) // 8 - 1, 5, -7):  # every cut of the CPU profile inside records
        open("cut", "wb").write(cpu[:k * 8])
        r = run([CLI, "report", "cut"], check=False)
        expect(r.returncode in (0, 2) and (r.returncode == 0 or r.stderr.count("\n") == 1),
               "cut at %d: %d %s" % (k * 8, r.returncode, r.stderr))
    # side file problems name the side file
    shutil.copy("syn/cpu.prof", "c.prof")
    open("c.prof.tests", "w").write("heapscope test samples 2\n")
    bad("c.prof", "c.prof.tests", "line 1")
    side = open("syn/cpu.prof.tests").read()
    open("c.prof.tests", "w").write(side.replace("\n5", "\n5000", 1).replace("\n50 ", "\n50000 ", 1))
    bad("c.prof", "c.prof.tests")
    open("c.prof.tests", "w").write(side.replace("\t", " ", 1))
    bad("c.prof", "GROUP<TAB>NAME")
    os.remove("c.prof.tests")
    # not a profile at all
    bad("/nonexistent/prof", "cannot open")
    os.mkdir("adir")
    bad("adir", "directory")
    r = run([CLI, "report", PROG], check=False)
    one_line_error(r, "program, not a profile")
    # output problems
    r = run([CLI, "report", "-o", "/nonexistent/dir/out", "syn/cpu.prof"], check=False)
    one_line_error(r, "/nonexistent/dir/out")
    if os.path.exists("/dev/full"):
        r = run([CLI, "report", "--traces", "-o", "/dev/full", "syn/cpu.prof"], check=False)
        one_line_error(r, "/dev/full", "write error")


def case_bad_options():
    gen()
    for args, needle in (([], "no profile"), (["--bogus", "syn/cpu.prof"], "unknown option"),
                         (["--top", "--svg", "syn/cpu.prof"], "choose one"),
                         (["--sample=nope", "syn/cpu.prof"], "no sample type 'nope'"),
                         (["--focus=(", "syn/cpu.prof"], "--focus"),
                         (["--nodecount=x", "syn/cpu.prof"], "--nodecount"),
                         (["--unit=kg", "syn/cpu.prof"], "--unit"),
                         (["--tests", "--callgrind", "syn/cpu.prof"], "--tests"),
                         (["--base=syn/cpu.prof", "syn/heap.heap"], "sample types")):
        r = run([CLI, "report"] + args, check=False)
        one_line_error(r, needle)
    expect("usage: heapscope report" in report("--help"), "no help")


def case_regressions():
    """Inputs the fuzzer found problems with, replayed under ASan/UBSan."""
    import struct
    # A record without PCs first: interning an empty stack into an empty
    # table passed a null pointer to memcpy (UBSan).
    with open("empty_stack.prof", "wb") as f:
        f.write(struct.pack("<5Q", 0, 3, 0, 10000, 0) + struct.pack("<2Q", 3, 0) +
                struct.pack("<3Q", 0, 1, 0))
    r = run([FUZZ, "--replay", "empty_stack.prof"],
            env=dict(CLEAN_ENV, UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"), check=False)
    expect(r.returncode == 0 and "1 inputs, 1 parsed" in r.stdout, "replay: %s %s" % (r.stdout, r.stderr))
    out = report("empty_stack.prof", "--unit=raw", "--sample=samples", "--traces")
    expect("[empty stack]" in out and "  3   " in out.replace("         3", "  3   "), out)


def case_fuzz():
    gen()
    prof = heapscope_profile("h")
    protof = heapscope_profile("hp", proto=True)
    leak_env = dict(CLEAN_ENV, LD_PRELOAD=PRELOAD, HEAPCHECK="normal",
                    HEAPSCOPE_LEAK_PROFILE=os.path.join(W, "leaks.heap"))
    run([PROG, "leak"], env=leak_env, check=False)
    seeds = ["syn/cpu.prof", "syn/cpu32be.prof", "syn/heap.heap", "syn/unsym.pb.gz", "syn/sym.pb",
             prof, protof, "leaks.heap"]
    if os.path.exists(LIBPROFILER):
        run([PROG, "cpu", "200"], env=dict(CLEAN_ENV, LD_PRELOAD=LIBPROFILER,
                                           CPUPROFILE=os.path.join(W, "g.prof")))
        seeds.append("g.prof")
    secs = os.environ.get("HS_FUZZ_SECONDS", "5")
    r = run([FUZZ, "--seconds", secs, "--save", os.path.join(W, "last-input")] + seeds,
            env=dict(CLEAN_ENV, ASAN_OPTIONS="detect_leaks=1",
                     UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"), check=False)
    expect(r.returncode == 0, "fuzz run failed (input kept in %s/last-input):\n%s\n%s" % (W, r.stdout, r.stderr[-4000:]))
    m = re.search(r"(\d+) inputs, (\d+) parsed", r.stdout)
    # a loaded machine gets through fewer inputs; the run only has to happen
    expect(m and int(m.group(1)) >= 20 and int(m.group(2)) >= 1, "fuzz did too little: " + r.stdout)
    note(r.stdout.strip().replace("\n", "; "))


if __name__ == "__main__":
    fn = globals().get("case_" + CASE)
    if not fn:
        fail("unknown case")
    fn()
    print("PASS (%s)" % CASE)
