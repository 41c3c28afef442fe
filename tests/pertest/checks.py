"""What the per-test checkers of tests/pertest share: the problems found so
far, check(), a clean environment to run a suite in, and the entry point
(arguments, the verdict line, the exit status).

A checker collects every mismatch instead of stopping at the first, then
prints `OK` or `FAIL:` with one problem a line, and exits 0 or 1; `SKIPPED:
why` (exit 0) when something it needs is missing, which CTest's
SKIP_REGULAR_EXPRESSION "^SKIPPED" reports as skipped."""
import argparse
import os
import sys

problems = []

# Variables that change what a suite under test does: heapscope's own,
# gperftools' profilers and checker, CMocka's output.
OWN_PREFIXES = ("HEAPSCOPE_", "HEAPCHECK", "HEAPPROFILE", "CPUPROFILE", "CMOCKA_")


def check(cond, what):
    """Notes what when cond is false; returns cond (to guard what follows)."""
    if not cond:
        problems.append(what)
    return cond


def clean_env(extra=None, drop=()):
    """os.environ without OWN_PREFIXES (and the prefixes in drop), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES + tuple(drop))}
    env.update(extra or {})
    return env


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(0)


def main(add_arguments, body=None, cases=None):
    """Parses the arguments (a CASE first when cases maps names to
    functions; add_arguments adds the others), creates --work if given, runs
    body(args) or the case's function, prints the verdict and exits."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    if cases:
        ap.add_argument("case", choices=sorted(cases))
    add_arguments(ap)
    args = ap.parse_args()
    if getattr(args, "work", None):
        os.makedirs(args.work, exist_ok=True)
    (cases[args.case] if cases else body)(args)
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("OK")
    sys.exit(0)
