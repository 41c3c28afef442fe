#!/usr/bin/env python3
"""gperftools users switch to heapscope without touching their code.

usage: compat.py STEP --build BUILD_DIR --src SOURCE_DIR --work WORK_DIR

STEP setup installs heapscope into WORK/prefix (as a user would), compiles
a gperftools-using C program and C++ program (tests/gperftools/compat_c.c,
compat_cxx.cc) against the installed headers only and links them with
libheapscope alone; the other steps run them with gperftools' variables and
check what they do. Each step prints PASS or FAIL lines; exit 0 = pass."""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("step")
ap.add_argument("--build", required=True)
ap.add_argument("--src", required=True)
ap.add_argument("--work", required=True)
args = ap.parse_args()

WORK = os.path.abspath(args.work)
PREFIX = os.path.join(WORK, "prefix")
BIN_C = os.path.join(WORK, "compat_c")
BIN_CXX = os.path.join(WORK, "compat_cxx")
HERE = os.path.join(os.path.abspath(args.src), "tests", "gperftools")
failures = []


def check(cond, what):
    print(("PASS: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("OK")
    sys.exit(0)


# Variables of gperftools, heapscope's own switches and the preload that
# would change what the programs do: unset for every run.
def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not re.match(r"(HEAP|TCMALLOC_|HEAPSCOPE_|CPUPROF|PERFTOOLS_|PPROF_PATH|MALLOCSTATS|"
                           r"LD_PRELOAD|LSAN_OPTIONS|ASAN_OPTIONS)", k)}
    env.update(extra or {})
    return env


def run(cmd, env=None, timeout=120, stdin=None):
    r = subprocess.run(cmd, env=clean_env(env), capture_output=True, text=True, timeout=timeout,
                       cwd=WORK, input=stdin)
    return r.returncode, r.stdout, r.stderr


def show(out, err):
    sys.stdout.write("--- stdout ---\n" + out + "--- stderr ---\n" + err + "---\n")


def needs_setup():
    if not (os.path.exists(BIN_C) and os.path.exists(BIN_CXX)):
        print("FAIL: the programs are not built (gperftools.setup)")
        sys.exit(1)


# ---- setup ------------------------------------------------------------------
def setup():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    r = subprocess.run(["cmake", "--install", args.build, "--prefix", PREFIX],
                       capture_output=True, text=True)
    if not check(r.returncode == 0, "cmake --install into a fresh prefix"):
        print(r.stdout + r.stderr)
        finish()
    inc = os.path.join(PREFIX, "include")
    libdir = os.path.dirname(glob.glob(os.path.join(PREFIX, "lib*", "libheapscope.so"))[0])
    mine = sorted(os.path.basename(h) for h in glob.glob(os.path.join(inc, "gperftools", "*.h")))
    print("installed gperftools headers: " + " ".join(mine))
    # Without the builtins the compiler keeps allocations nothing reads
    # (the checks measure them), as allocator tests do.
    common = ["-g", "-O1", "-fno-omit-frame-pointer", "-Wall", "-Werror", "-I", inc, "-MD",
              "-fno-builtin-malloc", "-fno-builtin-free", "-fno-builtin-calloc",
              "-fno-builtin-realloc"]
    link = ["-rdynamic", "-L", libdir, "-Wl,-rpath," + libdir, "-lheapscope", "-ldl"]
    cc = os.environ.get("CC") or "cc"
    cxx = shutil.which("g++") or shutil.which("c++")
    if not check(cxx is not None, "a C++ compiler (g++) is installed"):
        finish()
    builds = [([cc, "-std=gnu11"] + common + [os.path.join(HERE, "compat_c.c"), "-o", BIN_C] + link,
               BIN_C),
              ([cxx, "-std=c++17"] + common + [os.path.join(HERE, "compat_cxx.cc"), "-o", BIN_CXX] +
               link, BIN_CXX)]
    for cmd, out in builds:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=WORK)
        if not check(r.returncode == 0, "compile and link " + os.path.basename(out)):
            print(" ".join(cmd) + "\n" + r.stdout + r.stderr)
            continue
        # Only heapscope's headers were read, and only libheapscope linked.
        deps = open(os.path.join(WORK, os.path.basename(out) + ".d")).read() \
            if os.path.exists(os.path.join(WORK, os.path.basename(out) + ".d")) else ""
        if not deps:
            for d in glob.glob(os.path.join(WORK, "*.d")):
                if os.path.basename(out) in os.path.basename(d):
                    deps = open(d).read()
        used = sorted(set(re.findall(r"(\S*/gperftools/[\w-]+\.h)", deps)))
        check(used and all(u.startswith(inc) for u in used),
              f"{os.path.basename(out)} read only the installed headers: {used}")
        needed = subprocess.run(["readelf", "-d", out], capture_output=True, text=True).stdout
        libs = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", needed)
        check("libheapscope.so.0" in libs and not any(re.match(r"lib(tcmalloc|profiler)", l) for l in libs),
              f"{os.path.basename(out)} links libheapscope alone: {libs}")
    finish()


# ---- steps ------------------------------------------------------------------
def c_all(recording):
    env = {"HEAPCHECK": "normal"} if recording else {}
    rc, out, err = run([BIN_C, "all", WORK], env)
    ok = check(rc == 0, f"compat_c all{' under HEAPCHECK=normal' if recording else ''} exits 0")
    parts = ["hooks", "hooks_threads", "tc", "stacktrace", "malloc_extension", "heap_profiler",
             "cpu_profiler"]
    for part in parts:
        ok &= check(f"ok {part}" in out, f"compat_c: {part}")
    if not ok:
        show(out, err)


def cxx_all():
    rc, out, err = run([BIN_CXX, "all"])
    ok = check(rc == 0, "compat_cxx all exits 0")
    for part in ("malloc_hook", "malloc_extension", "tc_new", "heap_checker_inactive"):
        ok &= check(f"ok {part}" in out, f"compat_cxx: {part}")
    ok &= check("heapscope: GetHeapSample: no allocation is sampled" in err,
                "GetHeapSample with nothing sampled says so")
    ok &= check("heapscope: MallocExtension::GetHeapGrowthStacks" in err,
                "GetHeapGrowthStacks says it is empty")
    if not ok:
        show(out, err)


def region():
    rc, out, err = run([BIN_CXX, "region"], {"HEAPCHECK": "local"})
    ok = check(rc == 0 and "ok region" in out, "HEAPCHECK=local region checks")
    ok &= check("Leak check leaky detected leaks of 300 bytes in 1 objects" in err,
                "gperftools' first line for the leaky region")
    ok &= check(re.search(r"Direct leak of 300 byte\(s\) in 1 object\(s\) allocated from:\n"
                          r"    #0 0x[0-9a-f]+ in leak_300\(\) \S*compat_cxx\.cc:\d+", err) is not None,
                "the leaked malloc(300) is reported with a symbolized stack (function, file:line)")
    ok &= check("Leak check array detected leaks of 500 bytes in 1 objects" in err,
                "new char[500] leak reported")
    ok &= check("Leak check clean" not in err and "Leak check disabled" not in err,
                "clean and Disabler regions report nothing")
    ok &= check("Leak check ignored detected leaks of 64 bytes" in err,
                "UnIgnoreObject makes the object a leak again")
    ok &= check("destroyed without" not in err, "every checker was checked")
    if not ok:
        show(out, err)


def identify_dump():
    dump = os.path.join(WORK, "dump")
    shutil.rmtree(dump, ignore_errors=True)
    os.makedirs(dump)
    rc, out, err = run([BIN_CXX, "region"], {"HEAPCHECK": "local", "HEAP_CHECK_IDENTIFY_LEAKS": "1",
                                             "HEAP_CHECK_DUMP_DIRECTORY": dump})
    ok = check(rc == 0, "region checks under HEAP_CHECK_IDENTIFY_LEAKS / HEAP_CHECK_DUMP_DIRECTORY")
    ok &= check(re.search(r"Direct leak of 300 byte\(s\)[^\n]*\n(    #[^\n]*\n)+"
                          r"    leaked 300 byte object 0x[0-9a-f]+\n", err) is not None,
                "HEAP_CHECK_IDENTIFY_LEAKS prints the leaked object's address under its stack")
    files = glob.glob(os.path.join(dump, "compat_cxx.*.leaky-end.heap"))
    ok &= check(len(files) == 1, f"HEAP_CHECK_DUMP_DIRECTORY: DIR/compat_cxx.PID.leaky-end.heap ({files})")
    if files:
        text = open(files[0]).read()
        ok &= check(text.startswith("heap profile:") and re.search(r"^ +1: +300 \[", text, re.M) and
                    "MAPPED_LIBRARIES:" in text, "the dumped leak profile holds the 300-byte leak")
    ok &= check("leaks of check leaky as a heap profile: " + dump in err, "the dump is announced")
    if not ok:
        show(out, err)


def global_check(cancel):
    rc, out, err = run([BIN_CXX, "global"] + (["cancel"] if cancel else []), {"HEAPCHECK": "normal"})
    ok = check("ok global" in out, "NoGlobalLeaks finds the leak, cleanups ran, BytesLeaked")
    ok &= check("Leak check _main_ detected leaks of 4321 bytes in 1 objects" in err,
                "NoGlobalLeaks reports under gperftools' first line")
    if cancel:
        ok &= check(rc == 0 and err.count("SUMMARY: heapscope:") == 1,
                    f"CancelGlobalCheck: no check at exit (rc {rc})")
    else:
        ok &= check(rc == 1 and err.count("SUMMARY: heapscope:") == 2,
                    f"without CancelGlobalCheck the exit check fails the process (rc {rc})")
    if not ok:
        show(out, err)


def sample():
    rc, out, err = run([BIN_CXX, "sample"], {"TCMALLOC_SAMPLE_PARAMETER": "65536"})
    if not check(rc == 0 and "ok sample" in out,
                 "TCMALLOC_SAMPLE_PARAMETER: GetHeapSample, ReadStackTraces, MallocMemoryStats"):
        show(out, err)


def heap_signal():
    d = os.path.join(WORK, "sig")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    prefix = os.path.join(d, "p")
    p = subprocess.Popen([BIN_C, "wait"], env=clean_env({"HEAPPROFILE": prefix, "HEAPPROFILESIGNAL": "12",
                                        "HEAPSCOPE_VERBOSE": "1"}),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=WORK)
    line = p.stdout.readline()
    ok = check(line.strip() == "ready", "program started")
    for n in (1, 2):
        p.send_signal(signal.SIGUSR2)
        path = f"{prefix}.{n:04d}.heap"
        deadline = time.time() + 20
        while time.time() < deadline and not (os.path.exists(path) and
                                               "MAPPED_LIBRARIES:" in open(path).read()):
            time.sleep(0.05)
        ok &= check(os.path.exists(path), f"kill -USR2 #{n} dumped {os.path.basename(path)}")
    out, err = p.communicate("go on\n", timeout=60)
    ok &= check(p.returncode == 0 and "alive" in out, f"the program goes on after the signals (rc {p.returncode})")
    text = open(f"{prefix}.0001.heap").read() if os.path.exists(f"{prefix}.0001.heap") else ""
    ok &= check(re.search(r"^ +1: +4242 \[", text, re.M) is not None, "the dump holds the live block")
    ok &= check("(signal)" in err, "the dump says why")
    # Without a running profiler: one line, and the program still goes on.
    p = subprocess.Popen([BIN_C, "wait"], env=clean_env({"HEAPPROFILESIGNAL": "12"}),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=WORK)
    p.stdout.readline()
    p.send_signal(signal.SIGUSR2)
    time.sleep(0.5)
    out, err2 = p.communicate("go on\n", timeout=60)
    ok &= check(p.returncode == 0 and "alive" in out and "heap profiler is not running" in err2,
                "HEAPPROFILESIGNAL without a running profiler: one line, no death")
    # A forked child dumps on its own signal, to PREFIX_<pid>.NNNN.heap.
    fp = os.path.join(d, "f")
    rc, out, err4 = run([BIN_C, "forksignal", fp], {"HEAPPROFILE": fp, "HEAPPROFILESIGNAL": "12"})
    ok &= check(rc == 0 and "ok fork_signal" in out and len(glob.glob(fp + "_*.0001.heap")) == 1,
                f"HEAPPROFILESIGNAL in a forked child and its parent (rc {rc})")
    err2 += err4
    rc, out, err3 = run([BIN_C, "exit"], {"HEAPPROFILESIGNAL": "9"})
    ok &= check(rc == 0 and "HEAPPROFILESIGNAL=9: that signal cannot be caught" in err3,
                "HEAPPROFILESIGNAL=9 is refused with one line")
    if not ok:
        show(out, err + err2 + err3)


def proto():
    # HEAPCHECK records every allocation: the profile (profiler stopped) is
    # the live heap.
    rc, out, err = run([BIN_C, "proto", WORK], {"HEAPSCOPE_PROFILE_FORMAT": "proto",
                                                "HEAPCHECK": "normal"})
    ok = check(rc == 0 and "ok proto" in out, "GetHeapProfile/heapscope_heap_profile in proto mode")
    go = shutil.which("go")
    if ok and go:
        r = subprocess.run([go, "tool", "pprof", "-raw", os.path.join(WORK, "get.pb.gz")],
                           capture_output=True, text=True, timeout=300)
        ok &= check(r.returncode == 0 and "profiled_alloc" in r.stdout,
                    "go tool pprof reads it and names profiled_alloc")
    elif ok:
        print("note: go not installed; the proto was not read back")
    if not ok:
        show(out, err)


def large():
    rc, out, err = run([BIN_C, "large"], {"TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": "1000000"})
    lines = re.findall(r"^heapscope: large alloc (\d+) bytes == 0x[0-9a-f]+ @( 0x[0-9a-f]+)+$", err, re.M)
    ok = check(rc == 0 and [l[0] for l in lines] == ["2000000"],
               f"TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD: one stack for the 2 MB block ({lines})")
    rc, out, err2 = run([BIN_C, "large"])
    ok &= check("large alloc" not in err2, "no report without the variable")
    if not ok:
        show(out, err + err2)


def heaplimit():
    rc, out, err = run([BIN_C, "heaplimit"], {"TCMALLOC_HEAP_LIMIT_MB": "64"})
    if not check(rc == 0 and "ok heaplimit" in out, "TCMALLOC_HEAP_LIMIT_MB=64: 100 MiB fails, 1 MiB works"):
        show(out, err)


def release():
    """The allocator keeps freed pages for reuse and gives back what stays
    unused for 1 s, or the oldest at once while free memory is over a cap of
    max(32 MiB, 2 x in use) (docs/ARCHITECTURE.md, "Large objects");
    gperftools' release rate divides both (0: nothing goes back on its own)."""
    def measure(mib, env, rate_milli=None):
        cmd = [BIN_C, "release", str(mib)] + ([str(rate_milli)] if rate_milli is not None else [])
        rc, out, err = run(cmd, env)
        m = re.search(r"before=(\d+) now=(\d+) unmapped=\d+ rate_milli=(\d+)\n"
                      r"t0.4=(\d+)\nt0.8=(\d+)\nt1.6=(\d+)", out)
        if rc != 0 or not m:
            show(out, err)
            return None, err
        v = dict(zip(("before", "now", "rate", "t0.4", "t0.8", "t1.6"), (int(x) for x in m.groups())))
        print(f"  release {mib} MiB {env} {rate_milli}: {v}")
        return v, err
    mib = 1 << 20

    def held(v, when, n):  # the freed block still counts as free (mapped) memory
        return v is not None and v[when] >= v["before"] + n * mib

    def gone(v, when, n):
        return v is not None and v[when] < n * mib
    # Default (rate 1): 8 MiB is under the cap: kept for reuse, gone once unused for 1 s.
    # (The check at 0.4 s assumes the run is not stopped for 0.6 s.)
    v, _ = measure(8, {})
    check(v is not None and v["rate"] == 1000 and held(v, "now", 8) and held(v, "t0.4", 8) and
          gone(v, "t1.6", 8), f"default: a freed 8 MiB block is kept, then released after 1 s ({v})")
    # 40 MiB is over the default cap: it goes back at once.
    v, _ = measure(40, {})
    check(gone(v, "now", 40), f"default: a freed 40 MiB block (over the 32 MiB cap) goes back at once ({v})")
    # Rate 2: half the decay time (gone by 0.8 s) and half the cap.
    v, _ = measure(8, {"TCMALLOC_RELEASE_RATE": "2"})
    check(v is not None and v["rate"] == 2000 and held(v, "now", 8) and gone(v, "t0.8", 8),
          f"TCMALLOC_RELEASE_RATE=2: released after 0.5 s ({v})")
    # Rate 10: the cap is a tenth (3.2 MiB): 8 MiB goes back at once.
    v, _ = measure(8, {"TCMALLOC_RELEASE_RATE": "10"})
    check(v is not None and v["rate"] == 10000 and gone(v, "now", 8),
          f"TCMALLOC_RELEASE_RATE=10: a tenth of the cap, released at once ({v})")
    # Rate 0.5: twice the cap (64 MiB) and decay time (2 s): 40 MiB stays 1.6 s.
    v, _ = measure(40, {"TCMALLOC_RELEASE_RATE": "0.5"})
    check(v is not None and v["rate"] == 500 and held(v, "now", 40) and held(v, "t1.6", 40),
          f"TCMALLOC_RELEASE_RATE=0.5: twice the cap and the decay time ({v})")
    v, _ = measure(40, {"TCMALLOC_RELEASE_RATE": "0"})
    check(v is not None and v["rate"] == 0 and held(v, "now", 40) and held(v, "t1.6", 40),
          f"TCMALLOC_RELEASE_RATE=0: nothing goes back on its own ({v})")
    v, _ = measure(40, {"TCMALLOC_DISABLE_MEMORY_RELEASE": "true"})
    check(v is not None and v["rate"] == 0 and held(v, "t1.6", 40), f"TCMALLOC_DISABLE_MEMORY_RELEASE ({v})")
    # At run time (MallocExtension::SetMemoryReleaseRate(10)).
    v, _ = measure(8, {}, 10000)
    check(v is not None and v["rate"] == 10000 and gone(v, "now", 8),
          f"SetMemoryReleaseRate(10) at run time: released at once ({v})")
    v, _ = measure(8, {"TCMALLOC_AGGRESSIVE_DECOMMIT": "1"})
    check(v is not None and v["now"] == 0, f"TCMALLOC_AGGRESSIVE_DECOMMIT: no free page stays mapped ({v})")
    v, err = measure(8, {"TCMALLOC_RELEASE_RATE": "fast"})
    check(v is not None and v["rate"] == 1000 and "heapscope: invalid TCMALLOC_RELEASE_RATE='fast'" in err,
          "a bad TCMALLOC_RELEASE_RATE: one line, default kept")


def props():
    rc, out, err = run([BIN_C, "props"], {"TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES": "100000"})
    check(rc == 0 and "max_total_thread_cache_bytes=100000 thread_cache_limit=100000" in out,
          f"TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES bounds the thread cache: {out.strip()}")


def mmaps():
    def total(env):
        d = os.path.join(WORK, "mm")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        env = dict(env, HEAPPROFILE=os.path.join(d, "p"))
        rc, out, err = run([BIN_C, "mmaps"], env)
        f = os.path.join(d, "p.0001.heap")
        if rc != 0 or not os.path.exists(f):
            show(out, err)
            return None, err
        m = re.match(r"heap profile: +(\d+): +(\d+) ", open(f).read())
        return int(m.group(2)), err
    only, _ = total({"HEAP_PROFILE_ONLY_MMAP": "true"})
    check(only == 2 << 20, f"HEAP_PROFILE_ONLY_MMAP: in use = the 2 MiB mapping only ({only})")
    both, err = total({"HEAP_PROFILE_MMAP": "true", "HEAP_PROFILE_MMAP_LOG": "true"})
    check(both is not None and both >= (5 << 20), f"HEAP_PROFILE_MMAP: mapping and malloc ({both})")
    check(re.search(r"heapscope: mmap\(start=\S+, len=2097152, prot=0x3, flags=0x22, fd=-1, "
                    r"offset=0x0\) = 0x[0-9a-f]+", err) is not None and
          "heapscope: munmap(start=0x" in err, "HEAP_PROFILE_MMAP_LOG logs mmap and munmap")


def variables():
    """Every variable docs/gperftools.md lists as ignored prints one line
    saying so; values heapscope has anyway are accepted silently."""
    doc = open(os.path.join(args.src, "docs", "gperftools.md")).read()
    ignored = []
    for row in re.findall(r"^\| (`[A-Z_0-9]+`(?:, `[A-Z_0-9]+`)*) \| ignored[^|]*\|", doc, re.M):
        ignored += re.findall(r"`([A-Z_0-9]+)`", row)
    check(len(ignored) >= 20, f"{len(ignored)} ignored variables in docs/gperftools.md")
    values = {"HEAP_CHECK_AFTER_DESTRUCTORS": "false", "HEAP_CHECK_RUN_UNDER_GDB": "false",
              "HEAP_CHECK_TEST_POINTER_ALIGNMENT": "true", "HEAP_CHECK_POINTER_SOURCE_ALIGNMENT": "4",
              "TCMALLOC_SKIP_MMAP": "true"}
    needs_check = {"PPROF_PATH", "PERFTOOLS_VERBOSE"}  # said when HEAPCHECK is on
    for var in ignored:
        env = {var: values.get(var, "1")}
        if var in needs_check:
            env["HEAPCHECK"] = "normal"
        rc, out, err = run([BIN_C, "exit"], env)
        check(rc == 0 and err.count(f"heapscope: {var}=") == 1 and " is ignored: " in err,
              f"{var}={env[var]}: one heapscope: line says it is ignored")
    for var, value in (("HEAP_CHECK_AFTER_DESTRUCTORS", "true"), ("HEAP_CHECK_RUN_UNDER_GDB", "true"),
                       ("TCMALLOC_SKIP_SBRK", "true"), ("HEAP_CHECK_POINTER_SOURCE_ALIGNMENT", "8")):
        rc, out, err = run([BIN_C, "exit"], {var: value})
        check(rc == 0 and "heapscope:" not in err, f"{var}={value} (what heapscope does anyway): silent")
    rc, out, err = run([BIN_C, "exit"], {"MALLOCSTATS": "1"})
    check(rc == 0 and "MALLOC:" in err and "Bytes in use by application" in err,
          "MALLOCSTATS=1 prints the allocator's statistics at exit")
    rc, out, err = run([BIN_C, "exit"], {"TCMALLOC_STACKTRACE_METHOD": "generic_fp",
                                         "TCMALLOC_STACKTRACE_METHOD_VERBOSE": "1"})
    check("heapscope: stack unwinder: fp" in err, "TCMALLOC_STACKTRACE_METHOD=generic_fp -> fp")
    rc, out, err = run([BIN_C, "exit"], {"TCMALLOC_STACKTRACE_METHOD": "libunwind",
                                         "TCMALLOC_STACKTRACE_METHOD_VERBOSE": "1"})
    check("heapscope: stack unwinder: libunwind" in err, "TCMALLOC_STACKTRACE_METHOD=libunwind")
    rc, out, err = run([BIN_C, "exit"], {"TCMALLOC_STACKTRACE_METHOD": "libgcc"})
    check("heapscope: TCMALLOC_STACKTRACE_METHOD=libgcc: heapscope has no libgcc unwinder" in err,
          "TCMALLOC_STACKTRACE_METHOD=libgcc says what it does instead")
    rc, out, err = run([BIN_C, "exit"], {"TCMALLOC_STACKTRACE_METHOD": "magic"})
    check("heapscope: invalid TCMALLOC_STACKTRACE_METHOD='magic'" in err, "a bad unwinder name")


STEPS = {
    "setup": setup,
    "c_all": lambda: c_all(False),
    "c_all_recording": lambda: c_all(True),
    "cxx_all": cxx_all,
    "region": region,
    "identify_dump": identify_dump,
    "global_cancel": lambda: global_check(True),
    "global_exit": lambda: global_check(False),
    "sample": sample,
    "signal": heap_signal,
    "proto": proto,
    "large": large,
    "heaplimit": heaplimit,
    "release": release,
    "props": props,
    "mmaps": mmaps,
    "variables": variables,
}

if args.step not in STEPS:
    print("unknown step " + args.step)
    sys.exit(2)
if args.step != "setup":
    needs_setup()
STEPS[args.step]()
finish()
