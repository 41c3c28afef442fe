/* Per-test heap profile counts: the heap profiler's bucket counters split
 * by the test that allocated (core/record/record.h).
 *
 * A block belongs to the test whose generation range holds the block's
 * birth generation. The harness starts a range when a test begins (right
 * after the test's snapshot opened a new generation) and closes it when
 * the test ends, opening a generation of its own for what follows. Frees
 * look the test up from the record's generation, so a block allocated in
 * test A and freed in test B (or after every test) comes off A's counts,
 * exactly as it went on: the split never shows a negative in-use count,
 * and the tests' counts never exceed their buckets'.
 *
 * Cost: nothing at all until a test begins while a heap profiler counts
 * buckets; from then on one plain flag on the recording slow path (never
 * on the malloc fast path), and for a block born in a test one lock and
 * one hash probe (~20 ns next to the ~200 ns of the recorded allocation's
 * stack). Blocks born outside tests cost the flag and one comparison. */
#include "core/record/record.h"

#include <string.h>

bool hs__test_buckets;
static _Atomic uint32_t first_gen = UINT32_MAX; /* the first test's gen_lo */

typedef struct test_range {
  uint32_t gen_lo, gen_hi; /* the test's blocks: gen_lo <= gen < gen_hi */
  const char *group, *name;
} test_range_t;

typedef struct entry {
  uint32_t test, bucket; /* test: index + 1 into tests */
  uint32_t next;         /* the test's next entry + 1, 0 = none */
  uint64_t allocs, alloc_bytes, frees, free_bytes;
} entry_t;

static hs_lock_t lock;
hs_lock_t *const hs__test_buckets_lock = &lock;
static struct {
  test_range_t *tests; /* in the order they began: gen_lo ascending */
  uint32_t ntests, tests_cap;
  bool open;           /* the last test's range is still open */
  entry_t *e;
  uint32_t n, cap;
  uint32_t *head;      /* by test: its last entry + 1 (parallel to tests) */
  uint32_t *slots;     /* open addressing: entry + 1, 0 = empty */
  uint32_t nslots;     /* a power of two, >= 2 * cap */
} tb;

static char *copy_name(const char *s) {
  size_t n = strlen(s ? s : "");
  char *c = hs__arena_alloc(n + 1);
  if (c && n) memcpy(c, s, n);
  return c;
}

void hs__test_buckets_begin(const char *group, const char *name, uint32_t gen) {
  hs__lock(&lock);
  if (tb.open) tb.tests[tb.ntests - 1].gen_hi = gen; /* a test that never ended */
  tb.open = false;
  if (tb.ntests == tb.tests_cap) {
    uint32_t cap = tb.tests_cap ? tb.tests_cap * 2 : 64;
    test_range_t *t = hs__arena_realloc(tb.tests, (size_t)cap * sizeof *t);
    uint32_t *h = t ? hs__arena_realloc(tb.head, (size_t)cap * sizeof *h) : NULL;
    if (t) tb.tests = t;
    if (h) tb.head = h;
    if (!t || !h) goto out; /* out of memory: this test's blocks count as outside tests */
    tb.tests_cap = cap;
  }
  /* A group's tests share one copy of its name. */
  const char *prev = tb.ntests ? tb.tests[tb.ntests - 1].group : NULL;
  const char *g = prev && !strcmp(prev, group ? group : "") ? prev : copy_name(group);
  const char *nm = copy_name(name);
  if (!g || !nm) goto out;
  tb.tests[tb.ntests] = (test_range_t){gen, UINT32_MAX, g, nm};
  tb.head[tb.ntests] = 0;
  tb.ntests++;
  tb.open = true;
  if (tb.ntests == 1) atomic_store_explicit(&first_gen, gen, memory_order_relaxed);
  hs__test_buckets = true;
out:
  hs__unlock(&lock);
}

void hs__test_buckets_end(void) {
  hs__lock(&lock);
  if (tb.open) {
    /* What is allocated from now on is no longer the test's. */
    tb.tests[tb.ntests - 1].gen_hi = atomic_fetch_add(&hs__generation, 1) + 1;
    tb.open = false;
  }
  hs__unlock(&lock);
}

/* The test (index + 1) whose range holds gen, 0 for none. Most events are
 * the running test's own blocks: the last range first. */
static uint32_t test_of(uint32_t gen) {
  uint32_t n = tb.ntests;
  if (!n || gen < tb.tests[0].gen_lo) return 0;
  if (gen >= tb.tests[n - 1].gen_lo) return gen < tb.tests[n - 1].gen_hi ? n : 0;
  uint32_t lo = 0, hi = n - 1; /* the last range with gen_lo <= gen is in [lo, hi) */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (tb.tests[mid].gen_lo <= gen) lo = mid;
    else hi = mid;
  }
  return gen < tb.tests[lo].gen_hi ? lo + 1 : 0;
}

static uint32_t slot_of(uint32_t test, uint32_t bucket, uint32_t nslots) {
  uint64_t k = ((uint64_t)test << 32 | bucket) * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(k >> 32) & (nslots - 1);
}

static bool grow(void) {
  uint32_t cap = tb.cap ? tb.cap * 2 : 1024;
  entry_t *e = hs__arena_realloc(tb.e, (size_t)cap * sizeof *e);
  if (!e) return false;
  tb.e = e;
  uint32_t nslots = cap * 2;
  uint32_t *slots = hs__arena_alloc((size_t)nslots * sizeof *slots); /* zeroed */
  if (!slots) return false;
  for (uint32_t i = 0; i < tb.n; i++) {
    uint32_t s = slot_of(e[i].test, e[i].bucket, nslots);
    while (slots[s]) s = (s + 1) & (nslots - 1);
    slots[s] = i + 1;
  }
  hs__arena_free(tb.slots);
  tb.slots = slots;
  tb.nslots = nslots;
  tb.cap = cap;
  return true;
}

static entry_t *entry_for(uint32_t test, uint32_t bucket) {
  if (tb.nslots) {
    for (uint32_t s = slot_of(test, bucket, tb.nslots); tb.slots[s]; s = (s + 1) & (tb.nslots - 1)) {
      entry_t *e = &tb.e[tb.slots[s] - 1];
      if (e->test == test && e->bucket == bucket) return e;
    }
  }
  if (tb.n == tb.cap && !grow()) return NULL;
  uint32_t s = slot_of(test, bucket, tb.nslots);
  while (tb.slots[s]) s = (s + 1) & (tb.nslots - 1);
  entry_t *e = &tb.e[tb.n];
  *e = (entry_t){.test = test, .bucket = bucket, .next = tb.head[test - 1]};
  tb.slots[s] = ++tb.n;
  tb.head[test - 1] = tb.n;
  return e;
}

void hs__test_buckets_count(uint32_t gen, uint32_t bucket, size_t n, bool alloc) {
  /* A block born before the first test never belongs to one. */
  if (!bucket || gen < atomic_load_explicit(&first_gen, memory_order_relaxed)) return;
  hs__lock(&lock);
  uint32_t test = test_of(gen);
  entry_t *e = test ? entry_for(test, bucket) : NULL;
  if (e && alloc) {
    e->allocs++;
    e->alloc_bytes += n;
  } else if (e) {
    e->frees++;
    e->free_bytes += n;
  }
  hs__unlock(&lock);
}

hs_test_count_t *hs__test_buckets_snapshot(uint32_t only, size_t *n_out) {
  hs__lock(&lock);
  size_t want = 0;
  if (only && only <= tb.ntests)
    for (uint32_t k = tb.head[only - 1]; k; k = tb.e[k - 1].next) want++;
  else if (!only)
    want = tb.n;
  hs_test_count_t *out = want ? hs__arena_alloc(want * sizeof *out) : NULL;
  size_t n = 0;
  if (out) {
    for (uint32_t t = only ? only : 1; t <= (only ? only : tb.ntests); t++) {
      for (uint32_t k = tb.head[t - 1]; k; k = tb.e[k - 1].next) {
        const entry_t *e = &tb.e[k - 1];
        out[n++] = (hs_test_count_t){t, e->bucket, e->allocs, e->alloc_bytes, e->frees,
                                     e->free_bytes};
      }
    }
  }
  hs__unlock(&lock);
  *n_out = n;
  return out;
}

bool hs__test_buckets_names(uint32_t test, const char **group, const char **name) {
  hs__lock(&lock);
  bool ok = test >= 1 && test <= tb.ntests;
  if (ok) {
    *group = tb.tests[test - 1].group;
    *name = tb.tests[test - 1].name;
  }
  hs__unlock(&lock);
  return ok;
}

uint32_t hs__test_buckets_ntests(void) {
  hs__lock(&lock);
  uint32_t n = tb.ntests;
  hs__unlock(&lock);
  return n;
}

uint32_t hs__test_buckets_current(void) {
  hs__lock(&lock);
  uint32_t t = tb.open ? tb.ntests : 0;
  hs__unlock(&lock);
  return t;
}
