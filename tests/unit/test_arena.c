/* Internal heap: zeroed allocations, realloc, free (also through the public
 * free), alignment, and its spans never counted as user allocations. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <gperftools/malloc_extension_c.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>

static size_t prop(const char *name) {
  size_t v = 0;
  CHECKF(MallocExtension_GetNumericProperty(name, &v), "%s", name);
  return v;
}

static void check_zero(const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i]) CHECKF(0, "byte %zu of %zu not zero", i, n);
}

/* Several threads allocate internal memory and free each other's. */
enum { TN = 4, TOBJS = 4000 };
static void *shared[TN][TOBJS];
static pthread_barrier_t barrier;

static void *arena_worker(void *arg) {
  int me = (int)(intptr_t)arg;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < TOBJS; i++) {
      size_t n = (size_t)((i * 37 + me * 11) % 3000) + (i % 500 == 0 ? 300000 : 0);
      unsigned char *p = hs__arena_alloc(n);
      CHECK(p);
      for (size_t j = 0; j < n; j += 61) CHECK(p[j] == 0);
      memset(p, me + 1, n);
      shared[me][i] = p;
    }
    pthread_barrier_wait(&barrier);
    /* free the next thread's objects, checking their contents */
    int other = (me + 1) % TN;
    for (int i = 0; i < TOBJS; i++) {
      size_t n = (size_t)((i * 37 + other * 11) % 3000) + (i % 500 == 0 ? 300000 : 0);
      unsigned char *p = shared[other][i];
      for (size_t j = 0; j < n; j += 61) CHECK(p[j] == other + 1);
      hs__arena_free(p);
    }
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

static void test_threads(void) {
  pthread_t t[TN];
  pthread_barrier_init(&barrier, NULL, TN);
  for (int i = 0; i < TN; i++)
    CHECK(pthread_create(&t[i], NULL, arena_worker, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < TN; i++) CHECK(pthread_join(t[i], NULL) == 0);
}

int main(void) {
  hs__alloc_init();
  static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1000, 1024, 1025, 4096,
                                 10000, 65536, 200000, HS_MAX_SMALL,
                                 HS_MAX_SMALL + 1, 1 << 20, (3 << 20) + 5};
  const size_t nsizes = sizeof sizes / sizeof sizes[0];

  MallocExtension_MarkThreadIdle();
  size_t user0 = prop("generic.current_allocated_bytes");
  size_t internal0 = prop("heapscope.internal_bytes");

  /* Zeroed, even when the memory was dirtied and freed before. */
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < nsizes; i++) {
      size_t n = sizes[i];
      unsigned char *p = hs__arena_alloc(n);
      CHECK(p);
      CHECK(((uintptr_t)p & (HS_MIN_ALIGN - 1)) == 0);
      check_zero(p, n);
      CHECK(hs__arena_usable(p) >= n);
      hs_span_t *s = hs__pagemap_get((uintptr_t)p);
      CHECK(s && (s->kind == HS_SPAN_INTERNAL || s->kind == HS_SPAN_INTERNAL_LARGE));
      CHECK(s->kind == (n <= HS_MAX_SMALL ? HS_SPAN_INTERNAL : HS_SPAN_INTERNAL_LARGE));
      memset(p, 0xee, hs__arena_usable(p) < n + 64 ? hs__arena_usable(p) : n + 64);
      hs__arena_free(p);
    }
  }

  /* Many live objects: distinct, zeroed, counted as internal not user. */
  enum { N = 3000 };
  static void *objs[N];
  for (int i = 0; i < N; i++) {
    size_t n = sizes[i % nsizes] % 70000;
    objs[i] = hs__arena_alloc(n);
    CHECK(objs[i]);
    check_zero(objs[i], n);
    memset(objs[i], i & 0xff, n);
  }
  void *big = hs__arena_alloc(20 << 20);
  CHECK(big);
  memset(big, 1, 20 << 20);
  size_t user1 = prop("generic.current_allocated_bytes");
  size_t internal1 = prop("heapscope.internal_bytes");
  CHECKF(user1 == user0, "internal allocations counted as user bytes: %zu -> %zu",
         user0, user1);
  CHECK(internal1 >= internal0 + (20 << 20));
  for (int i = 0; i < N; i++) {
    size_t n = sizes[i % nsizes] % 70000;
    const unsigned char *c = objs[i];
    for (size_t j = 0; j < n; j++) CHECK(c[j] == (unsigned char)(i & 0xff));
  }
  for (int i = 0; i < N; i++) hs__arena_free(objs[i]);
  hs__arena_free(big);
  CHECK(prop("generic.current_allocated_bytes") == user0);

  /* realloc: grow keeps contents, shrink keeps the prefix, NULL acts as
   * alloc. (Only hs__arena_alloc promises zeroed memory.) */
  unsigned char *r = hs__arena_realloc(NULL, 10);
  CHECK(r);
  check_zero(r, 10);
  for (int i = 0; i < 10; i++) r[i] = (unsigned char)i;
  size_t n = 10;
  while (n < (2 << 20)) {
    size_t m = n * 3;
    r = hs__arena_realloc(r, m);
    CHECK(r && hs__arena_usable(r) >= m);
    for (size_t i = 0; i < 10; i++) CHECK(r[i] == (unsigned char)i);
    for (size_t i = 10; i < m; i++) r[i] = (unsigned char)(i * 31);
    for (size_t i = 10; i < m; i++) CHECK(r[i] == (unsigned char)(i * 31));
    n = m;
  }
  r = hs__arena_realloc(r, 100);
  CHECK(r);
  for (size_t i = 0; i < 10; i++) CHECK(r[i] == (unsigned char)i);
  for (size_t i = 10; i < 100; i++) CHECK(r[i] == (unsigned char)(i * 31));
  hs__arena_free(r);
  hs__arena_free(NULL);

  /* memalign */
  for (size_t align = 1; align <= (1 << 20); align <<= 1) {
    void *p = hs__arena_memalign(align, 100);
    CHECK(p && ((uintptr_t)p & (align - 1)) == 0);
    check_zero(p, 100);
    void *q = hs__arena_memalign(align, 300000);
    CHECK(q && ((uintptr_t)q & (align - 1)) == 0);
    check_zero(q, 300000);
    hs__arena_free(p);
    hs__arena_free(q);
  }

  /* The public free accepts internal memory (libdw may allocate inside the
   * runtime and free outside it), and usable size answers for it. */
  void *pub = hs__arena_alloc(77);
  CHECK(malloc_usable_size(pub) >= 77);
  free(pub);
  void *publ = hs__arena_alloc(1 << 20);
  CHECK(malloc_usable_size(publ) >= (1 << 20));
  free(publ);
  CHECK(prop("generic.current_allocated_bytes") == user0);

  /* The internal heap keeps its spans' addresses (never reused for user
   * blocks, see core/alloc/central.c), so a second identical round must not need
   * more. */
  test_threads();
  size_t internal2 = prop("heapscope.internal_bytes");
  test_threads();
  MallocExtension_MarkThreadIdle();
  CHECKF(prop("generic.current_allocated_bytes") <= user0 + (64 << 10),
         "internal allocations on threads counted as user bytes");
  /* everything was freed: the internal heap does not keep growing */
  CHECKF(prop("heapscope.internal_bytes") <= internal2 + (8 << 20), "%zu -> %zu", internal2,
         prop("heapscope.internal_bytes"));
  puts("arena ok");
  return 0;
}
