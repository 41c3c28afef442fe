"""A real Python workload for the preload test: builds a large nested
structure, round-trips it through json, sorts, builds dicts and sets, and
prints digests. Deterministic: the plain and preloaded runs must print the
same lines."""
import hashlib
import json
import random
import re
import sys
import zlib

rng = random.Random(12345)

def word(n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))

# A big nested structure: ~60k small objects, strings of many sizes.
records = []
for i in range(20000):
    records.append({
        "id": i,
        "name": word(rng.randint(1, 40)),
        "tags": [word(rng.randint(2, 8)) for _ in range(rng.randint(0, 6))],
        "score": rng.random(),
        "blob": word(rng.randint(0, 2000)) if i % 50 == 0 else "",
        "nested": {"a": list(range(rng.randint(0, 30))), "b": {"c": str(i) * 3}},
    })

text = json.dumps(records, sort_keys=True)
back = json.loads(text)
assert back == records
print("json bytes", len(text), "sha256", hashlib.sha256(text.encode()).hexdigest())

# Sorting in several ways.
by_name = sorted(records, key=lambda r: (r["name"], r["id"]))
by_score = sorted(records, key=lambda r: r["score"], reverse=True)
print("first by name", by_name[0]["id"], "first by score", by_score[0]["id"])
nums = [rng.randint(-10**9, 10**9) for _ in range(200000)]
nums.sort()
print("sorted ints checksum", sum(nums[::1000]) % 1000003)

# Dict and set building, growing and shrinking.
index = {}
for r in records:
    for t in r["tags"]:
        index.setdefault(t, []).append(r["id"])
print("distinct tags", len(index), "largest bucket", max(len(v) for v in index.values()))
words = set()
for r in records:
    words.update(re.findall(r"[aeiou]{2,}", r["name"]))
print("vowel runs", len(words))
for k in list(index)[::2]:
    del index[k]
print("after delete", len(index))

# Big strings and bytes, compression (large malloc/realloc in C code).
big = ("".join(r["name"] for r in records) * 20).encode()
comp = zlib.compress(big, 6)
assert zlib.decompress(comp) == big
print("zlib", len(big), len(comp) > 0)

# Many short-lived objects.
total = 0
for i in range(300000):
    t = (i, str(i), [i] * (i % 7))
    total += len(t[1]) + len(t[2])
print("churn", total)

# Growing lists and bytearrays to several MiB.
ba = bytearray()
for i in range(100000):
    ba += bytes([i & 0xFF]) * 50
print("bytearray", len(ba), hashlib.md5(ba).hexdigest())
sys.stdout.flush()
