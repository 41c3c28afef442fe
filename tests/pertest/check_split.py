#!/usr/bin/env python3
"""Profiles split by test, on split_suite.c.

usage: check_split.py CASE --exe SPLIT_SUITE --cli HEAPSCOPE --work DIR

profile_dir: HEAPSCOPE_TEST_PROFILE_DIR and _TOP (see case_profile_dir).
heap_split: HEAPPROFILE under the CMocka adapter (per-test checks on); the
  dumps' per-test split (PATH.tests beside a legacy dump, `test`/`group`
  labels in profile.proto) read by `heapscope report --test=NAME` and
  `--tests`: each test's profile holds its own allocating functions and
  none of the others', with exact byte counts; a block allocated in one
  test and freed in another comes off its own test's in-use bytes; a side
  file that does not match its dump is one `heapscope:` line, exit 2.
Exits 1 with the reasons on a mismatch."""
import glob
import os
import re
import shutil
import subprocess

from checks import check, clean_env, main
# split_suite.c's sizes.
ALPHA = 4 * 4096
KEEP = 777
BETA = 3 * 1000
ODD = 64
OUTSIDE = 5000
ALL_FUNCS = ["alpha_alloc", "alpha_keep", "beta_alloc", "beta_worker_alloc", "odd_alloc",
             "outside_alloc"]


def run(args, env_extra, argv=()):
    p = subprocess.run([args.exe, *argv], env=clean_env(env_extra), capture_output=True, text=True,
                       timeout=120)
    check(p.returncode == 0, f"suite under {env_extra}: exit {p.returncode}: {p.stderr[-500:]}")
    return p


def report(args, *argv):
    return subprocess.run([args.cli, "report", "--unit=raw"] + list(argv), capture_output=True,
                          text=True, timeout=120)


def flat(args, *argv):
    """{function: flat value} from `report --top`, and the result."""
    r = report(args, "--nodecount=100", *argv)
    rows = {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s*(-?\d+)\s+[-\d.]+%\s+[-\d.]+%\s+-?\d+\s+[-\d.]+%\s+(.+)$",
                                 r.stdout, re.M)}
    return rows, r


def tests_rows(args, *argv):
    r = report(args, "--tests", *argv)
    return {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s*(-?\d+)\s+[\d.]+%\s+\d+\s+(.+?)\s*$", r.stdout, re.M)}, r


def only(rows, want, what, funcs=ALL_FUNCS):
    """rows hold exactly the functions want (name -> bytes) among funcs."""
    got = {f: rows.get(f) for f in funcs if rows.get(f)}
    check(got == want, f"{what}: {got}, expected {want}")


def check_profile(args, prof, kind):
    # alloc_space: every test's own functions, with their exact bytes.
    rows, r = flat(args, "--sample=alloc_space", "--test=test_alpha", prof)
    check(r.returncode == 0, f"{kind} --test=test_alpha: exit {r.returncode} {r.stderr}")
    only(rows, {"alpha_alloc": ALPHA, "alpha_keep": KEEP}, f"{kind} --test=test_alpha alloc_space")
    rows, r = flat(args, "--sample=alloc_space", "--test=split/test_beta", prof)
    only(rows, {"beta_alloc": BETA, "beta_worker_alloc": BETA},
         f"{kind} --test=split/test_beta alloc_space (its worker thread's too)")
    rows, r = flat(args, "--sample=alloc_space", "--test=odd name/with:chars*", prof)
    only(rows, {"odd_alloc": ODD}, f"{kind} --test='odd name/with:chars*'")
    # The whole profile still holds everything (the split moves, never drops).
    rows, r = flat(args, "--sample=alloc_space", prof)
    only(rows, {"alpha_alloc": ALPHA, "alpha_keep": KEEP, "beta_alloc": BETA,
                "beta_worker_alloc": BETA, "odd_alloc": ODD, "outside_alloc": OUTSIDE},
         f"{kind} whole profile")
    t, r = tests_rows(args, "--sample=alloc_space", prof)
    check(t.get("split/test_alpha") == ALPHA + KEEP and
          t.get("split/odd name/with:chars*") == ODD and
          t.get("split/test_beta", 0) >= 2 * BETA and
          t.get("(outside tests)", 0) >= OUTSIDE and "split/test_gamma" not in t,
          f"{kind} --tests: {t}")


def case_heap_split(args):
    work = os.path.join(args.work, "heap_split")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run(args, {"HEAPCHECK": "normal", "HEAPPROFILE": os.path.join(work, "h")})
    dumps = sorted(glob.glob(os.path.join(work, "h.*.heap")))
    if not check(len(dumps) == 2 and all(os.path.exists(d + ".tests") for d in dumps),
                 f"two dumps (test_beta's and the exit's), each with PATH.tests: "
                 f"{sorted(os.listdir(work))}"):
        return
    mid, end = dumps
    check(open(end + ".tests").readline() == "heapscope test heap 1\n", "side file's first line")
    check_profile(args, end, "legacy")
    # In use: alpha's kept block is alpha's while live (the dump test_beta
    # takes first), and comes off alpha's when test_beta frees it.
    rows, r = flat(args, "--sample=inuse_space", "--test=test_alpha", mid)
    only(rows, {"alpha_keep": KEEP}, "dump in test_beta: test_alpha's in use")
    rows, r = flat(args, "--sample=inuse_space", "--test=test_beta", mid)
    only(rows, {}, "dump at test_beta's start: nothing of beta's yet")
    rows, r = flat(args, "--sample=inuse_space", "--test=test_alpha", end)
    only(rows, {}, "exit dump: test_alpha's in use (its block freed by test_beta)")
    rows, r = flat(args, "--sample=inuse_space", "--test=test_beta", end)
    only(rows, {}, "exit dump: test_beta's in use (alpha's block is not beta's)")

    # profile.proto: the same split through labels.
    run(args, {"HEAPCHECK": "normal", "HEAPPROFILE": os.path.join(work, "p"),
               "HEAPSCOPE_PROFILE_FORMAT": "proto"})
    protos = sorted(glob.glob(os.path.join(work, "p.*.pb*")))
    if check(len(protos) == 2, f"two proto dumps: {protos}"):
        check_profile(args, protos[1], "proto")
        rows, r = flat(args, "--sample=inuse_space", "--test=test_alpha", protos[0])
        only(rows, {"alpha_keep": KEEP}, "proto dump in test_beta: test_alpha's in use")
        r = report(args, "--test=test_gamma", protos[1])
        check(r.returncode == 0 and "Test split/test_gamma: no sample: it allocated nothing" in
              r.stdout, f"proto --test=test_gamma: exit {r.returncode} {r.stdout!r} {r.stderr!r}")

    # A test that allocated nothing says so instead of an empty profile
    # (the side file names every test that ran); an unknown test is an error.
    r = report(args, "--test=test_gamma", end)
    check(r.returncode == 0 and "Test split/test_gamma: no sample: it allocated nothing this "
          "profile records" in r.stdout, f"--test=test_gamma: exit {r.returncode} {r.stdout!r}")
    r = report(args, "--tests", end)
    check(re.search(r"1 test\(s\) without a sample: it allocated nothing this profile records\n"
                    r"\s+-\s+-\s+0\s+split/test_gamma\n", r.stdout) is not None,
          f"--tests lists test_gamma as without a sample: {r.stdout!r}")
    r = report(args, "--test=no_such_test", end)
    check(r.returncode == 2 and "no sample belongs to this test" in r.stderr,
          f"--test=no_such_test: exit {r.returncode} {r.stderr!r}")

    # A side file that does not belong to its dump: one line, exit 2.
    bad = os.path.join(work, "bad.heap")
    shutil.copy(end, bad)
    side = open(end + ".tests").read()
    open(bad + ".tests", "w").write(re.sub(r"\[\s*4:\s*16384\]", "[ 5: 99999]", side))
    r = report(args, "--test=test_alpha", bad)
    check(r.returncode == 2 and r.stderr.count("\n") == 1 and
          r.stderr.startswith("heapscope: ") and "bad.heap.tests" in r.stderr,
          f"mismatched side file: exit {r.returncode}, {r.stderr!r}")
    open(bad + ".tests", "w").write("heapscope test samples 1\n")
    r = report(args, bad)
    check(r.returncode == 2 and "expected 'heapscope test heap 1'" in r.stderr,
          f"a CPU side file beside a heap dump: exit {r.returncode}, {r.stderr!r}")
    # The side file's reader under mutation (tests/report's harness, with
    # AddressSanitizer and UBSan when the compiler has them): the dump and
    # its PATH.tests as the seed.
    if args.fuzz:
        f = subprocess.run([args.fuzz, "--seconds", "3", "--save", os.path.join(work, "last-input"), end],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
                                    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"))
        m = re.search(r"(\d+) inputs, (\d+) parsed", f.stdout)
        check(f.returncode == 0 and m is not None and int(m.group(2)) >= 1,
              f"fuzzing the heap side file: exit {f.returncode} {f.stdout} {f.stderr[-2000:]}")


def cum(args, *argv):
    """{function: cum value} from `report --top`."""
    r = report(args, "--nodecount=200", *argv)
    check(r.returncode == 0, f"report {argv}: exit {r.returncode} {r.stderr}")
    return {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s*-?\d+\s+[-\d.]+%\s+[-\d.]+%\s+(-?\d+)\s+[-\d.]+%\s+(.+)$",
                                 r.stdout, re.M)}


def files(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def case_profile_dir(args):
    """HEAPSCOPE_TEST_PROFILE_DIR: each test's own CPU and heap profile,
    named after the test, readable by heapscope report, holding that test's
    functions only; _TOP=N keeps the N slowest and the over-budget ones;
    bad values are one heapscope: line and no files."""
    work = os.path.join(args.work, "profile_dir")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    d = os.path.join(work, "all")
    p = run(args, {"HEAPCHECK": "normal", "HEAPSCOPE_TEST_PROFILE_DIR": d})
    heaps = [f for f in files(d) if f.endswith(".heap")]
    check(heaps == ["split.odd_name_with_chars_.heap", "split.test_alpha.heap",
                    "split.test_beta.heap", "split.test_gamma.heap"], f"heap files: {files(d)}")
    whole = [f for f in files(d) if re.fullmatch(r"heapscope-cpu\.\d+\.prof", f)]
    if check(len(whole) == 1, f"without CPUPROFILE the profiler is started into DIR: {files(d)}"):
        # A .prof for exactly the tests with a sample in the process's
        # profile (the short ones have none, but a sample may land in any
        # test), and test_alpha (120 ms of CPU) always has one.
        rows, r = tests_rows(args, os.path.join(d, whole[0]))
        sampled = sorted("split." + re.sub(r"[^A-Za-z0-9._-]", "_", t[len("split/"):]) + ".prof"
                         for t, v in rows.items() if t.startswith("split/") and v > 0)
        profs = [f for f in files(d) if f.startswith("split.") and f.endswith(".prof")]
        check(profs == sampled and "split.test_alpha.prof" in profs,
              f".prof files {profs}, sampled tests {sampled}")
    cpu_fns = ["alpha_burn", "beta_burn"]
    for test, burn, allocs in (("test_alpha", "alpha_burn", {"alpha_alloc": ALPHA, "alpha_keep": KEEP}),
                               ("test_beta", "beta_burn", {"beta_alloc": BETA, "beta_worker_alloc": BETA})):
        prof = os.path.join(d, f"split.{test}.prof")
        if os.path.exists(prof):
            c = cum(args, prof)
            check(c.get(burn, 0) > 0 and all(f not in c for f in cpu_fns if f != burn),
                  f"{test}.prof: {burn} and no other test's: { {f: c.get(f) for f in cpu_fns} }")
        heap = os.path.join(d, f"split.{test}.heap")
        if os.path.exists(heap):
            rows, r = flat(args, "--sample=alloc_space", heap)
            only(rows, allocs, f"{test}.heap alloc_space")
    # test_alpha burns 120 ms: its profile holds about that (10 ms a sample).
    c = cum(args, os.path.join(d, "split.test_alpha.prof"))
    check(60e6 <= c.get("alpha_burn", 0) <= 250e6, f"test_alpha.prof: alpha_burn {c.get('alpha_burn')} ns")
    rows, r = flat(args, "--sample=alloc_space", os.path.join(d, "split.odd_name_with_chars_.heap"))
    only(rows, {"odd_alloc": ODD}, "odd name's heap profile")
    # In use at the test's end: alpha's kept block was live then.
    rows, r = flat(args, "--sample=inuse_space", os.path.join(d, "split.test_alpha.heap"))
    only(rows, {"alpha_keep": KEEP}, "test_alpha.heap in use at its end")

    # With the process's own profiles on: theirs is used, both still split.
    d = os.path.join(work, "with_profiles")
    run(args, {"HEAPSCOPE_TEST_PROFILE_DIR": d, "CPUPROFILE": os.path.join(work, "cpu.prof"),
               "HEAPPROFILE": os.path.join(work, "h")})
    check(not any(f.startswith("heapscope-cpu.") for f in files(d)) and
          "split.test_alpha.prof" in files(d) and "split.test_beta.heap" in files(d),
          f"with CPUPROFILE and HEAPPROFILE: {files(d)}")
    c = cum(args, os.path.join(work, "cpu.prof"))
    check(c.get("alpha_burn", 0) > 0 and c.get("beta_burn", 0) > 0, "CPUPROFILE's own file: every test")

    # Too short to be sampled: at one sample a second of CPU, test_gamma
    # (well under a millisecond) gets none and says so instead of showing
    # an empty profile; at 100 Hz test_alpha has its samples and --tests
    # lists the short ones apart.
    prof = os.path.join(work, "slow.prof")
    run(args, {"CPUPROFILE": prof, "CPUPROFILE_FREQUENCY": "1"})
    for t in ("test_gamma",):
        r = report(args, f"--test={t}", prof)
        check(r.returncode == 0 and f"Test split/{t}: no sample: too short to be sampled (one "
              "sample every 1000 ms of cpu)" in r.stdout, f"1 Hz --test={t}: {r.returncode} "
              f"{r.stdout!r} {r.stderr!r}")
    r = report(args, "--test=no_such_test", prof)
    check(r.returncode == 2, f"1 Hz --test=no_such_test: exit {r.returncode}")
    # profile.proto too: a zero-valued sample carries the short test's labels.
    pb = os.path.join(work, "slow.pb.gz")
    run(args, {"CPUPROFILE": pb, "CPUPROFILE_FREQUENCY": "1", "HEAPSCOPE_PROFILE_FORMAT": "proto"})
    r = report(args, "--test=test_gamma", pb)
    check(r.returncode == 0 and "Test split/test_gamma: no sample: too short to be sampled (one "
          "sample every 1000 ms of cpu)" in r.stdout, f"1 Hz proto --test=test_gamma: "
          f"{r.returncode} {r.stdout!r} {r.stderr!r}")
    r = report(args, "--tests", pb)
    check("split/test_gamma" in r.stdout.split("without a sample")[-1],
          f"1 Hz proto --tests lists test_gamma apart: {r.stdout!r}")
    r = report(args, "--tests", os.path.join(work, "cpu.prof"))
    m = re.search(r"(\d+) test\(s\) without a sample: too short to be sampled \(one sample every "
                  r"10 ms of cpu\)\n((?:\s+-\s+-\s+0\s+.*\n)+)", r.stdout)
    check(m is not None and "split/test_alpha" not in m.group(2) and
          ("split/test_gamma" in m.group(2) or "split/odd name" in m.group(2)),
          f"100 Hz --tests: the short tests listed apart: {r.stdout!r}")
    r = report(args, "--test=test_alpha", os.path.join(work, "cpu.prof"))
    check(r.returncode == 0 and "no sample" not in r.stdout and "alpha_burn" in r.stdout,
          f"100 Hz --test=test_alpha: its profile {r.stdout[:300]!r}")

    # TOP=1: the slowest test only (test_alpha, 120 ms of CPU). The .heap
    # files say which tests were kept (one for every kept test); a .prof
    # comes with it when the test has a sample in the process's profile.
    def kept(d):
        heaps = [f[:-5] for f in files(d) if f.startswith("split.") and f.endswith(".heap")]
        profs = [f[:-5] for f in files(d) if f.startswith("split.") and f.endswith(".prof")]
        whole = glob.glob(os.path.join(d, "heapscope-cpu.*.prof"))
        rows = tests_rows(args, whole[0])[0] if len(whole) == 1 else {}
        sampled = {"split." + re.sub(r"[^A-Za-z0-9._-]", "_", t[len("split/"):])
                   for t, v in rows.items() if t.startswith("split/") and v > 0}
        check(set(profs) == set(heaps) & sampled, f"{d}: .prof files {profs} for the kept tests "
              f"{heaps} with a sample ({sorted(sampled)})")
        return heaps
    d = os.path.join(work, "top1")
    run(args, {"HEAPSCOPE_TEST_PROFILE_DIR": d, "HEAPSCOPE_TEST_PROFILE_TOP": "1"})
    check(kept(d) == ["split.test_alpha"] and os.path.exists(os.path.join(d, "split.test_alpha.prof")),
          f"TOP=1: {files(d)}")
    # TOP=1 with a peak budget test_alpha exceeds: alpha's files (over
    # budget) and the slowest of the others (test_beta, 40 ms).
    d = os.path.join(work, "top1_budget")
    p = subprocess.run([args.exe], env=clean_env({"HEAPSCOPE_TEST_PROFILE_DIR": d,
                                                  "HEAPSCOPE_TEST_PROFILE_TOP": "1",
                                                  "HEAPSCOPE_TEST_MAX_PEAK": "10000"}),
                       capture_output=True, text=True, timeout=120)
    check(p.returncode != 0 and "test_alpha" in p.stdout + p.stderr, "the peak budget fails test_alpha")
    check(kept(d) == ["split.test_alpha", "split.test_beta"], f"TOP=1 + over budget: {files(d)}")

    # Bad values: one heapscope: line, the feature off.
    for extra, what in (({"HEAPSCOPE_TEST_PROFILE_TOP": "x"}, "invalid HEAPSCOPE_TEST_PROFILE_TOP='x'"),
                        ({"HEAPSCOPE_TEST_PROFILE_TOP": "0"}, "invalid HEAPSCOPE_TEST_PROFILE_TOP='0'"),
                        ({"HEAPSCOPE_TEST_PROFILE_TOP": "-2"}, "invalid HEAPSCOPE_TEST_PROFILE_TOP='-2'")):
        d = os.path.join(work, "bad")
        shutil.rmtree(d, ignore_errors=True)
        p = run(args, {"HEAPSCOPE_TEST_PROFILE_DIR": d, **extra})
        lines = [l for l in p.stderr.splitlines() if l.startswith("heapscope:")]
        check(len(lines) == 1 and what in lines[0] and "per-test profiles off" in lines[0] and
              not os.path.exists(d), f"{extra}: {lines}, {files(d)}")
    blocker = os.path.join(work, "a_file")
    open(blocker, "w").close()
    for dirv in (blocker, os.path.join(blocker, "sub")):
        p = run(args, {"HEAPSCOPE_TEST_PROFILE_DIR": dirv})
        lines = [l for l in p.stderr.splitlines() if l.startswith("heapscope:")]
        check(len(lines) == 1 and "HEAPSCOPE_TEST_PROFILE_DIR=" in lines[0] and
              "per-test profiles off" in lines[0], f"DIR={dirv}: {lines}")


# harness_split.c's sizes and functions.
H_ONE, H_KEEP, H_TWO, H_WORKER, H_BEFORE, H_BETWEEN = 8 * 1024, 500, 3 * 300, 200, 5000, 2222
H_FUNCS = ["before_alloc", "one_alloc", "one_keep", "between_alloc", "two_alloc", "two_worker_alloc"]


def check_harness_profile(args, prof, kind):
    def only_h(rows, want, what):
        only(rows, want, what, H_FUNCS)
    rows, r = flat(args, "--sample=alloc_space", "--test=test_one", prof)
    check(r.returncode == 0, f"{kind} --test=test_one: exit {r.returncode} {r.stderr}")
    only_h(rows, {"one_alloc": H_ONE, "one_keep": H_KEEP}, f"{kind} --test=test_one alloc_space")
    rows, r = flat(args, "--sample=alloc_space", "--test=hand/test_two", prof)
    only_h(rows, {"two_alloc": H_TWO, "two_worker_alloc": H_WORKER},
           f"{kind} --test=hand/test_two alloc_space (its thread's too)")
    rows, r = flat(args, "--sample=alloc_space", prof)
    only_h(rows, {"before_alloc": H_BEFORE, "one_alloc": H_ONE, "one_keep": H_KEEP,
                  "between_alloc": H_BETWEEN, "two_alloc": H_TWO, "two_worker_alloc": H_WORKER},
           f"{kind} whole profile")
    # In use at exit: test_one's kept block was freed by test_two, off test_one's.
    rows, r = flat(args, "--sample=inuse_space", "--test=test_one", prof)
    only_h(rows, {}, f"{kind} exit dump: test_one's in use")
    t, r = tests_rows(args, "--sample=alloc_space", prof)
    check(t.get("hand/test_one") == H_ONE + H_KEEP and t.get("hand/test_two", 0) >= H_TWO + H_WORKER
          and t.get("(outside tests)", 0) >= H_BEFORE + H_BETWEEN, f"{kind} --tests: {t}")
    # The test that allocated nothing ran: said so, not an unknown name
    # (profile.proto: a zero-valued sample carrying its labels).
    r = report(args, "--test=test_empty", prof)
    check(r.returncode == 0 and "Test hand/test_empty: no sample: it allocated nothing this "
          "profile records" in r.stdout, f"{kind} --test=test_empty: exit {r.returncode} "
          f"{r.stdout!r} {r.stderr!r}")
    r = report(args, "--tests", prof)
    check(re.search(r"1 test\(s\) without a sample: it allocated nothing this profile records\n"
                    r"\s+-\s+-\s+0\s+hand/test_empty\n", r.stdout) is not None,
          f"{kind} --tests lists test_empty as without a sample: {r.stdout!r}")
    return total(args, prof)


def total(args, prof, sample="alloc_space"):
    """The whole profile's total of one sample type (report --tests)."""
    r = report(args, "--tests", f"--sample={sample}", prof)
    m = re.search(r" of (\d+) total in tests", r.stdout)
    check(m is not None, f"--tests {prof}: no total: {r.stdout!r} {r.stderr!r}")
    return int(m.group(1)) if m else None


def have_go_pprof():
    return shutil.which("go") is not None and subprocess.run(
        ["go", "tool", "pprof", "-h"], capture_output=True, timeout=120).returncode in (0, 2)


def go_pprof_total(prof, sample):
    """go tool pprof's total of one sample type, in its raw unit (None: it failed)."""
    r = subprocess.run(["go", "tool", "pprof", "-top", "-unit=byte" if "space" in sample else "-unit=ns",
                        f"-sample_index={sample}", prof], capture_output=True, text=True, timeout=120)
    m = re.search(r"of ([\d.]+)(B|ns) total", r.stdout)
    check(r.returncode == 0 and m is not None, f"go tool pprof -top {prof}: exit {r.returncode} "
          f"{r.stdout[:300]!r} {r.stderr[:300]!r}")
    return int(float(m.group(1))) if m else None


def case_harness_split(args):
    """A harness without CMocka names its tests through
    heapscope_profiler_set_test: the same split as under the adapter."""
    work = os.path.join(args.work, "harness_split")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    p = run(args, {"HEAPPROFILE": os.path.join(work, "h")}, ["dump"])
    check(p.stdout.split() == ["ok", "test_one", "ok", "test_two", "ok", "test_empty"],
          f"the harness ran its three tests: {p.stdout!r}")
    dumps = sorted(glob.glob(os.path.join(work, "h.*.heap")))
    if not check(len(dumps) == 2 and all(os.path.exists(d + ".tests") for d in dumps),
                 f"two dumps (test_two's and the exit's), each with PATH.tests: "
                 f"{sorted(os.listdir(work))}"):
        return
    mid, end = dumps
    legacy_total = check_harness_profile(args, end, "legacy")
    rows, r = flat(args, "--sample=inuse_space", "--test=test_one", mid)
    only(rows, {"one_keep": H_KEEP}, "dump as test_two begins: test_one's in use", H_FUNCS)
    rows, r = flat(args, "--sample=alloc_space", "--test=test_two", mid)
    only(rows, {}, "dump as test_two begins: nothing of test_two's yet", H_FUNCS)

    run(args, {"HEAPPROFILE": os.path.join(work, "p"), "HEAPSCOPE_PROFILE_FORMAT": "proto"})
    protos = sorted(glob.glob(os.path.join(work, "p.*.pb*")))
    if check(len(protos) == 1, f"one proto dump: {protos}"):
        # The zero-valued sample that names test_empty changes no total.
        proto_total = check_harness_profile(args, protos[0], "proto")
        check(proto_total == legacy_total, f"proto total {proto_total}, legacy {legacy_total}")
        if have_go_pprof():
            # pprof reads it (it drops zero-valued samples when loading) and
            # agrees on the total.
            for sample in ("alloc_space", "inuse_space"):
                g = go_pprof_total(protos[0], sample)
                ours = total(args, protos[0], sample)
                check(g == ours, f"go tool pprof {sample} total {g}, ours {ours}")
    # A legacy dump and its side file converted to profile.proto keep the
    # test without a sample.
    conv = os.path.join(work, "converted.pb.gz")
    r = report(args, "--proto", "--sample=alloc_space", "-o", conv, end)
    if check(r.returncode == 0, f"report --proto: exit {r.returncode} {r.stderr}"):
        check_harness_profile(args, conv, "converted")


CASES = {"heap_split": case_heap_split, "profile_dir": case_profile_dir,
         "harness_split": case_harness_split}


def arguments(ap):
    ap.add_argument("--exe", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fuzz", help="tests/report's fuzz_report (heap_split)")


if __name__ == "__main__":
    main(arguments, cases=CASES)
