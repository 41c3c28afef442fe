#!/usr/bin/env python3
"""Profiles split by test, on split_suite.c.

usage: check_split.py CASE --exe SPLIT_SUITE --cli HEAPSCOPE --work DIR

heap_split: HEAPPROFILE under the CMocka adapter (per-test checks on); the
  dumps' per-test split (PATH.tests beside a legacy dump, `test`/`group`
  labels in profile.proto) read by `heapscope report --test=NAME` and
  `--tests`: each test's profile holds its own allocating functions and
  none of the others', with exact byte counts; a block allocated in one
  test and freed in another comes off its own test's in-use bytes; a side
  file that does not match its dump is one `heapscope:` line, exit 2.
Exits 1 with the reasons on a mismatch."""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

problems = []
# split_suite.c's sizes.
ALPHA = 4 * 4096
KEEP = 777
BETA = 3 * 1000
ODD = 64
OUTSIDE = 5000
ALL_FUNCS = ["alpha_alloc", "alpha_keep", "beta_alloc", "beta_worker_alloc", "odd_alloc",
             "outside_alloc"]


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def run(args, env_extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEAPSCOPE_", "HEAPCHECK", "HEAPPROFILE", "CPUPROFILE", "CMOCKA_"))}
    env.update(env_extra)
    p = subprocess.run([args.exe], env=env, capture_output=True, text=True, timeout=120)
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


def only(rows, want, what):
    """rows hold exactly the functions want (name -> bytes) among ALL_FUNCS."""
    got = {f: rows.get(f) for f in ALL_FUNCS if rows.get(f)}
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


CASES = {"heap_split": case_heap_split}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--exe", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    CASES[args.case](args)
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
