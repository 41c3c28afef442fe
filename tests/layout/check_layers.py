#!/usr/bin/env python3
"""The runtime's folders import one way (docs/ARCHITECTURE.md, "Layers").

usage: check_layers.py SOURCE_DIR

Each folder may include headers of its own folder and of folders on lower
layers only; folders on the same layer do not include each other. Outside
core/alloc/, nothing names the allocator's span internals: the rest of the
runtime goes through core/alloc/alloc.h's block interface."""
import os
import re
import sys

root = sys.argv[1]
LAYERS = {
    "core/base": 0, "core/alloc": 1, "core/module": 2, "core/stack": 3,
    "core/symbol": 4, "core/record": 4, "core/profile": 5, "core/api": 6,
    "leakcheck": 7, "adapters/cmocka": 8,
}
SPAN_INTERNALS = re.compile(r"\b(hs_span_t|hs__pagemap_get|hs__pageheap_\w+|HS_SPAN_\w+|"
                            r"hs__central\w*|hs__tcache_(?!push)\w+|hs__span_registry)\b")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

def folder_of(rel):
    for f in sorted(LAYERS, key=len, reverse=True):
        if rel == f or rel.startswith(f + "/"):
            return f
    return None

errors = []
files = 0
for top in ("core", "leakcheck", "adapters/cmocka"):
    for dirpath, _, names in os.walk(os.path.join(root, top)):
        for name in names:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            me = folder_of(os.path.dirname(rel))
            if me is None:
                errors.append(f"{rel}: not in a known layer folder")
                continue
            files += 1
            text = open(path, encoding="utf-8").read()
            for inc in INCLUDE.findall(text):
                if "/" not in inc:
                    target = me  # same folder
                else:
                    target = folder_of(os.path.dirname(inc))
                if target is None:
                    continue  # public headers (heapscope/, gperftools/) and the like
                if target == me:
                    continue
                if LAYERS[target] >= LAYERS[me]:
                    errors.append(f"{rel}: includes {inc} ({target} is not below {me})")
            if me != "core/alloc":
                code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
                for m in SPAN_INTERNALS.finditer(code):
                    line = code[:m.start()].count("\n") + 1
                    errors.append(f"{rel}:{line}: uses allocator internal {m.group(0)}")
for e in errors:
    print(e)
print(f"{files} files checked:", "OK" if not errors else f"{len(errors)} problem(s)")
sys.exit(1 if errors else 0)
