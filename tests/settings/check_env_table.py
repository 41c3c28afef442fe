#!/usr/bin/env python3
"""The README's environment table and the runtime's settings table agree.

usage: check_env_table.py HEAPSCOPE_CLI README.md

Every variable the runtime reads (`heapscope --help-env --names`, printed
from core/base/settings.def) must appear in the first column of the
README's "## Environment" table, and every variable named there must be one
the runtime reads."""
import re
import subprocess
import sys

cli, readme = sys.argv[1], sys.argv[2]
names = subprocess.run([cli, "--help-env", "--names"], check=True, capture_output=True,
                       text=True).stdout.split()
assert len(names) >= 30, f"suspiciously few settings: {names}"
text = open(readme, encoding="utf-8").read()
m = re.search(r"^## Environment\n(.*?)^## ", text, re.S | re.M)
assert m, "README has no '## Environment' section"
documented = set()
for line in m.group(1).splitlines():
    if not line.startswith("| `"):
        continue
    first = line.split("|")[1]
    documented.update(re.findall(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`", first))
missing = [n for n in names if n not in documented]
unknown = sorted(documented - set(names))
ok = True
if missing:
    print("read by the runtime but not in README's table:", ", ".join(missing))
    ok = False
if unknown:
    print("in README's table but not read by the runtime:", ", ".join(unknown))
    ok = False
print("OK" if ok else "FAIL")
sys.exit(0 if ok else 1)
