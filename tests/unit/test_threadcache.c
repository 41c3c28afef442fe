/* Thread caches: LIFO reuse of a freed object, the cache stays bounded under
 * churn, objects freed on another thread are reusable, and a thread's cache
 * goes back to the central lists when it exits. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <gperftools/malloc_extension_c.h>
#include <pthread.h>
#include <string.h>

static size_t prop(const char *name) {
  size_t v = 0;
  CHECKF(MallocExtension_GetNumericProperty(name, &v), "%s", name);
  return v;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ---- reuse after free ---- */
static void test_reuse(void) {
  for (size_t n = 1; n <= HS_MAX_SMALL; n = n * 3 / 2 + 1) {
    void *p = malloc(n);
    CHECK(p);
    free(p);
    void *q = malloc(n);
    CHECKF(q == p, "size %zu: %p then %p", n, p, q);
    /* Same class, different request size: same object too. */
    uint32_t cls = hs__size_to_class(n);
    free(q);
    void *r = malloc(hs__classes[cls].size);
    CHECKF(r == p, "size %zu", n);
    free(r);
  }
  /* A freed object sits in this thread's cache. */
  void *p = malloc(48);
  size_t before = hs__tcache_total_bytes();
  free(p);
  CHECK(hs__tcache_total_bytes() >= before + 48);
}

/* ---- the cache stays bounded ---- */
static void test_bounded(void) {
  enum { SLOTS = 4096 };
  static void *slot[SLOTS];
  size_t worst = 0;
  for (int round = 0; round < 200000; round++) {
    int i = (int)(next_rand() % SLOTS);
    if (slot[i]) {
      free(slot[i]);
      slot[i] = NULL;
    } else {
      size_t n = next_rand() % 4 == 0 ? next_rand() % HS_MAX_SMALL : next_rand() % 2048;
      slot[i] = malloc(n);
      CHECK(slot[i]);
    }
    if (round % 1000 == 0) {
      size_t t = hs__tcache_total_bytes();
      if (t > worst) worst = t;
    }
  }
  for (int i = 0; i < SLOTS; i++) free(slot[i]);
  size_t t = hs__tcache_total_bytes();
  if (t > worst) worst = t;
  /* Phase 2: fill every class's list up to its limit without overflowing
   * it (allocate a batch per class, then free it): the per-thread limit
   * must hold for the sum over classes too. */
  for (int rep = 0; rep < 4; rep++) {
    for (uint32_t c = 1; c < hs__num_classes; c++) {
      void *objs[64];
      uint32_t k = hs__classes[c].batch * 2;
      if (k > 64) k = 64;
      for (uint32_t j = 0; j < k; j++) objs[j] = malloc(hs__classes[c].size);
      for (uint32_t j = 0; j < k; j++) free(objs[j]);
      size_t now = hs__tcache_total_bytes();
      if (now > worst) worst = now;
    }
  }
  /* The limit is 4 MiB per thread. */
  CHECKF(worst <= ((size_t)4 << 20), "thread cache grew to %zu bytes", worst);
  MallocExtension_MarkThreadIdle();
  CHECK(hs__tcache_total_bytes() == 0);
}

/* ---- cross-thread frees ---- */
enum { XN = 20000, XSIZE = 48 };
static void *xobjs[XN];

static void *freer(void *arg) {
  (void)arg;
  for (int i = 0; i < XN; i++) free(xobjs[i]);
  return NULL;
}

static void test_cross_thread(void) {
  MallocExtension_MarkThreadIdle();
  size_t base_alloc = prop("generic.current_allocated_bytes");
  for (int i = 0; i < XN; i++) {
    xobjs[i] = malloc(XSIZE);
    memset(xobjs[i], 0x77, XSIZE);
  }
  size_t mid = prop("generic.current_allocated_bytes");
  CHECK(mid >= base_alloc + XN * XSIZE);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, freer, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  /* The freeing thread exited: its cache went back, the bytes are free. */
  size_t after = prop("generic.current_allocated_bytes");
  CHECKF(after <= base_alloc + 64 * 1024, "base %zu after %zu", base_alloc, after);
  /* And this thread can reuse them: allocating the same again does not need
   * new spans. */
  hs_heap_stats_t st0, st1;
  hs__pageheap_stats(&st0);
  size_t small0 = st0.small_span_bytes + st0.free_bytes + st0.unmapped_bytes;
  for (int i = 0; i < XN; i++) xobjs[i] = malloc(XSIZE);
  hs__pageheap_stats(&st1);
  CHECKF(st1.heap_bytes == st0.heap_bytes, "heap grew %zu -> %zu", st0.heap_bytes,
         st1.heap_bytes);
  (void)small0;
  for (int i = 0; i < XN; i++) free(xobjs[i]);
}

/* ---- thread exit returns the cache ---- */
static size_t in_thread_cache;
static void *churner(void *arg) {
  (void)arg;
  void *p[256];
  for (int r = 0; r < 20; r++) {
    for (int i = 0; i < 256; i++) p[i] = malloc(16 + (size_t)(i % 32) * 64);
    for (int i = 0; i < 256; i++) free(p[i]);
  }
  in_thread_cache = hs__tcache.state == 1 ? hs__tcache_total_bytes() : 0;
  return NULL;
}

static void test_exit_returns_cache(void) {
  MallocExtension_MarkThreadIdle();
  size_t before = hs__tcache_total_bytes();
  size_t alloc_before = prop("generic.current_allocated_bytes");
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churner, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECKF(in_thread_cache > before, "thread exited with an empty cache?");
  CHECKF(hs__tcache_total_bytes() == before, "cache of exited thread still counted");
  size_t alloc_after = prop("generic.current_allocated_bytes");
  CHECKF(alloc_after <= alloc_before + 64 * 1024, "%zu -> %zu", alloc_before,
         alloc_after);
}

int main(void) {
  test_reuse();
  test_bounded();
  test_cross_thread();
  test_exit_returns_cache();
  puts("threadcache ok");
  return 0;
}
