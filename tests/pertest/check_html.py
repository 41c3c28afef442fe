#!/usr/bin/env python3
"""`heapscope report --html` in a real browser (headless Chromium).

usage: check_html.py --cli HEAPSCOPE --exe PT_SUITE [--split-exe SPLIT_SUITE] --work DIR
                     [--chromium PATH]

Runs pt_suite for a statistics file, a JSON leak report and a profile,
writes the page, then has Chromium load it (from a file, network off) inside
html_probe.html, which sorts the table, zooms a flame graph and writes what
the DOM holds; this script checks that: every test in the table with its
figures, the sort order by peak, the leak with its symbolized stack, the
over-budget tests with the stacks at their peak, a flame graph per test of
the profile. A second page built from a hostile statistics file (markup in
test names) must show the names as text. A screenshot of the page is taken
and must not be blank (a broken layout shows in it; it stays in DIR).

Chromium: Debian's `chromium` (scripts/install-deps.sh --test installs it);
without it the test says SKIPPED."""
import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

from checks import check, clean_env, main, skip


def chromium_cmd(chrome, profile_dir):
    return [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-default-apps", "--user-data-dir=" + profile_dir]


def probe(chrome, work, page):
    prof = os.path.join(work, "chromium-profile")
    shutil.rmtree(prof, ignore_errors=True)
    here = os.path.dirname(os.path.abspath(__file__))
    url = "file://" + os.path.join(here, "html_probe.html") + "?page=file://" + os.path.abspath(page)
    p = subprocess.run(chromium_cmd(chrome, prof) + ["--allow-file-access-from-files",
                       "--virtual-time-budget=10000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="result">(.*?)</pre>', p.stdout, re.S)
    if not m or m.group(1) == "pending":
        sys.exit(f"the probe page did not report (exit {p.returncode}): {p.stdout[:500]} {p.stderr[-1500:]}")
    return json.loads(html.unescape(m.group(1)))


def png_colors(path):
    """Distinct colours of an 8-bit RGB/RGBA PNG (a blank page has one)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"PNG type {depth}/{ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colors = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, stride, bpp * 2):
                colors.add(bytes(line[x:x + 3]))
        prev = line
    return w, h, len(colors)


def split_heap_page(a):
    """A heap profile split by test (split_suite.c under HEAPPROFILE, its
    PATH.tests side file) feeds the page: one flame graph per test holding
    that test's allocating functions and no other test's, the blocks of no
    test apart, the test that allocated nothing said so, and the table's
    rows link to their test's graph."""
    work = os.path.join(a.work, "split")
    os.makedirs(work)
    stats = os.path.join(work, "stats.json")
    env = clean_env({"HEAPCHECK": "normal", "HEAPPROFILE": os.path.join(work, "h"),
                     "HEAPSCOPE_TEST_STATS": stats})
    p = subprocess.run([a.split_exe], env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"split_suite: exit {p.returncode} {p.stderr[-500:]}")
    dumps = sorted(f for f in os.listdir(work) if re.fullmatch(r"h\.\d+\.heap", f))
    if not check(dumps and os.path.exists(os.path.join(work, dumps[-1] + ".tests")),
                 f"split_suite's exit dump with its side file: {sorted(os.listdir(work))}"):
        return
    page = os.path.join(work, "split.html")
    p = subprocess.run([a.cli, "report", "--sample=alloc_space", "--html", page, stats,
                        os.path.join(work, dumps[-1])], capture_output=True, text=True)
    if not check(p.returncode == 0, f"--html with the split heap profile: {p.stderr}"):
        return
    f = probe(a.chromium, work, page)
    if not check("error" not in f, f"probe (split heap page): {f.get('error')}"):
        return
    names = {fl["test"]: set(fl["names"]) for fl in f["flames"]}
    own = {"split/test_alpha": {"alpha_alloc", "alpha_keep"},
           "split/test_beta": {"beta_alloc", "beta_worker_alloc"},
           "split/odd name/with:chars*": {"odd_alloc"},
           "(outside tests)": {"outside_alloc"}}
    every = set().union(*own.values())
    check(set(names) == set(own), f"split heap page: flame graphs for {sorted(names)}, "
          f"expected {sorted(own)}")
    for test, fns in own.items():
        got = names.get(test, set())
        check(fns <= got and not (got & (every - fns)),
              f"split heap page: {test}'s flame graph has {sorted(got & every)}, expected {sorted(fns)}")
    check(f["unsampled"] == ["split/test_gamma"] and
          any("split/test_gamma: no sample: it allocated nothing" in u for u in f.get("unsampled_text", [])),
          f"split heap page: unsampled {f['unsampled']} {f.get('unsampled_text')}")
    links = {l[0]: (l[1], l[2]) for l in f["links"]}
    for test in ("split/test_alpha", "split/test_beta"):
        href, exists = links.get(test, ("", False))
        check(href.startswith("#flame-") and exists, f"split heap page: {test}'s row links to {href!r}")


def arguments(ap):
    ap.add_argument("--cli", required=True)
    ap.add_argument("--exe", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "")
    ap.add_argument("--split-exe", help="split_suite: a heap profile split by test")


def check_pages(a):
    if not a.chromium:
        skip("no chromium (scripts/install-deps.sh --test installs it)")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    env = clean_env()
    stats = os.path.join(a.work, "stats.json")
    leaks = os.path.join(a.work, "leaks.json")
    env.update({"HEAPCHECK": "normal", "HEAPSCOPE_TEST_STATS": stats, "HEAPSCOPE_REPORT": "json",
                "HEAPSCOPE_REPORT_PATH": leaks, "HEAPSCOPE_TEST_MAX_PEAK": "2M",
                "HEAPPROFILE": os.path.join(a.work, "prof"), "CPUPROFILE": os.path.join(a.work, "cpu.prof"),
                "HEAP_PROFILE_ALLOCATION_INTERVAL": "0", "HEAP_PROFILE_INUSE_INTERVAL": "0"})
    subprocess.run([a.exe], env=env, capture_output=True, timeout=300)
    profiles = sorted(f for f in os.listdir(a.work) if f.startswith("prof.") and f.endswith(".heap"))
    check(profiles, "no heap profile written")
    page = os.path.join(a.work, "report.html")
    inputs = [stats, leaks] + [os.path.join(a.work, p) for p in profiles[-1:]]
    p = subprocess.run([a.cli, "report", "--sample=alloc_space", "--html", page] + inputs,
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"heapscope report --html failed: {p.stderr}")
    text = open(page, encoding="utf-8").read()
    check(not re.search(r"(src|href)=\"(https?:)?//", text), "the page references the network")
    check("default-src 'none'" in text, "no Content-Security-Policy")

    f = probe(a.chromium, a.work, page)
    if not check("error" not in f, f"probe: {f.get('error')}"):
        return
    doc = json.load(open(stats))
    labels = [t["group"] + "/" + t["name"] for t in doc["tests"]]
    check(sorted(f["rows_initial"]) == sorted(labels), f"table rows {f['rows_initial']}")
    by_cpu = [t["group"] + "/" + t["name"] for t in sorted(doc["tests"], key=lambda t: -t["cpu_s"])]
    check(f["rows_initial"][0] == by_cpu[0], f"first row by CPU: {f['rows_initial'][:3]} vs {by_cpu[:3]}")
    peaks = {t["group"] + "/" + t["name"]: t["peak_bytes"] for t in doc["tests"]}
    got = [peaks[r] for r in f["rows_by_peak"]]
    check(got == sorted(got, reverse=True) and f["sort_peak"] == "descending",
          f"sorted by peak: {f['rows_by_peak']}")
    got = [peaks[r] for r in f["rows_by_peak_asc"]]
    check(got == sorted(got), "sorted by peak, ascending on the second click")
    check(f["rows_by_name"] == sorted(labels), f"sorted by name: {f['rows_by_name']}")
    heavy = f["cells"].get("resources/test_memory_heavy", [])
    check(heavy[:2] == ["resources/test_memory_heavy", "failed"] and "8.1 MiB" in heavy,
          f"memory-heavy row: {heavy}")
    check(any(l[0] == "resources/test_memory_heavy" and l[2] for l in f["links"]),
          f"over-budget test links to its details: {f['links']}")
    check(len(f["leaks"]) == 1 and "Direct leak of 333 byte(s) in 1 object(s) in more/test_leaks" in f["leaks"][0]
          and re.search(r"#0 test_leaks\s+\S*pt_suite\.c:\d+", f["leaks"][0]) is not None,
          f"leaks: {f['leaks']}")
    budget = [b for b in f["budgets"] if b.startswith("resources/test_memory_heavy")]
    check(budget and "peak 8.1 MiB over its budget of 2.0 MiB" in budget[0] and
          re.search(r"8\.0 MiB in 64 object\(s\) allocated from:#0 grow_table\s+\S*pt_suite\.c:\d+", budget[0]),
          f"budgets: {f['budgets']}")
    check(len(f["flames"]) >= 1, "no flame graph")
    for fl in f["flames"]:
        check(fl["rects"] > 3 and fl["names"][0] == "all", f"flame graph {fl['test']}: {fl['rects']} frames")
        check(fl["width"] > 600, f"flame graph {fl['test']} is {fl['width']} px wide")
        z = fl.get("zoomed")
        check(z and z["full_width"] and fl["reset_rects"] == fl["rects"], f"zoom in {fl['test']}: {z}")
    check(any("grow_table" in fl["names"] for fl in f["flames"]), "grow_table in no flame graph")
    check(f["scripts_external"] == 0, "external resources in the page")

    # The CPU profile of the same run: a flame graph per sampled test, and
    # the tests too short to be sampled said as such.
    page_cpu = os.path.join(a.work, "cpu.html")
    p = subprocess.run([a.cli, "report", "--html", page_cpu, stats, os.path.join(a.work, "cpu.prof")],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"--html with the CPU profile: {p.stderr}")
    fc = probe(a.chromium, a.work, page_cpu)
    cpu_of = {t["group"] + "/" + t["name"]: t["cpu_s"] for t in doc["tests"]}
    heavy = [fl for fl in fc.get("flames", []) if (fl["test"] or "").endswith("resources/test_cpu_heavy")]
    check(len(heavy) == 1 and "burn_cpu" in heavy[0]["names"] and "grow_table" not in heavy[0]["names"],
          f"CPU flame graph of test_cpu_heavy: {[(fl['test'], fl['names'][:6]) for fl in fc.get('flames', [])]}")
    uns = [u.split(":", 1)[-1] for u in fc.get("unsampled", [])]
    tiny = [t for t, c in cpu_of.items() if c < 0.001]
    check(uns and all(any(u.endswith(t) for t in tiny) for u in uns if u) and
          sum(any(u.endswith(t) for u in uns) for t in tiny) >= len(tiny) - 2,
          f"unsampled tests {fc.get('unsampled')} vs tests under 1 ms of CPU {tiny}")

    if a.split_exe:
        split_heap_page(a)

    # Hostile names are text, never markup.
    evil = os.path.join(a.work, "evil.json")
    name = "</script><script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    json.dump({"tool": "heapscope", "kind": "test-stats", "version": 1, "pid": 1,
               "tests": [{"name": name, "group": "g&<b>", "status": "passed", "wall_s": 0.1,
                          "cpu_s": 0.1, "allocs": 1, "alloc_bytes": 1, "peak_bytes": 1,
                          "leaked_bytes": 0}]}, open(evil, "w"))
    page2 = os.path.join(a.work, "evil.html")
    subprocess.run([a.cli, "report", "--html", page2, evil], check=True, capture_output=True)
    f2 = probe(a.chromium, a.work, page2)
    check(f2.get("rows_initial") == ["g&<b>/" + name], f"hostile name: {f2.get('rows_initial')}")
    check(f2.get("injected") == 2 and f2.get("title") == "heapscope: tests",
          f"markup from the data ran: {f2.get('injected')} scripts, title {f2.get('title')}")

    shot = os.path.join(a.work, "report.png")
    prof = os.path.join(a.work, "chromium-shot")
    subprocess.run(chromium_cmd(a.chromium, prof) + ["--window-size=1280,1600", "--hide-scrollbars",
                   "--screenshot=" + shot, "file://" + os.path.abspath(page)],
                   capture_output=True, timeout=180)
    if check(os.path.exists(shot), "no screenshot"):
        w, h, colors = png_colors(shot)
        check(w == 1280 and h == 1600 and colors > 20, f"screenshot {w}x{h} with {colors} colours")
        print(f"screenshot: {shot} ({w}x{h}, {colors} colours)")


if __name__ == "__main__":
    main(arguments, check_pages)
