/* Conformance of the C allocation API as heapscope provides it: alignment of
 * every entry point, errno and return conventions (glibc's where C leaves a
 * choice), realloc/calloc semantics, malloc_usable_size, the glibc extras
 * and gperftools' MallocExtension statistics, and aborting on invalid frees.
 *
 * Built twice: linked against libheapscope (HS_LINKED), and plain, to be run
 * with LD_PRELOAD. heapscope-only entry points are looked up with dlsym so
 * the plain build links; their presence proves heapscope is the allocator. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/check.h"
#include "child_stderr.h"

#ifdef HS_LINKED
#include <gperftools/malloc_extension_c.h>
#endif

static int (*get_prop)(const char *, size_t *);
static void (*get_stats)(char *, int);
static void (*release_free)(void);
static size_t (*allocated_size)(const void *);
static size_t (*estimated_size)(size_t);
static void (*mark_idle)(void);
static void (*p_free_sized)(void *, size_t);
static void (*p_free_aligned_sized)(void *, size_t, size_t);

static void *sym(const char *name) {
  void *p = dlsym(RTLD_DEFAULT, name);
  CHECKF(p != NULL, "%s not found: heapscope is not the active allocator", name);
  return p;
}

static size_t prop(const char *name) {
  size_t v = (size_t)-1;
  CHECKF(get_prop(name, &v) == 1, "property %s", name);
  return v;
}

static volatile size_t sink; /* defeats dead-store elimination */

static void touch(void *p, size_t n) {
  unsigned char *c = p;
  if (!n) return;
  c[0] = 0x5a;
  c[n - 1] = 0xa5;
  c[n / 2] = 0x33;
  sink += c[0] + c[n - 1];
}

/* ---- which allocator is this? ---------------------------------------- */
static void test_active(void) {
  get_prop = (int (*)(const char *, size_t *))sym("MallocExtension_GetNumericProperty");
  get_stats = (void (*)(char *, int))sym("MallocExtension_GetStats");
  release_free = (void (*)(void))sym("MallocExtension_ReleaseFreeMemory");
  allocated_size = (size_t(*)(const void *))sym("MallocExtension_GetAllocatedSize");
  estimated_size = (size_t(*)(size_t))sym("MallocExtension_GetEstimatedAllocatedSize");
  mark_idle = (void (*)(void))sym("MallocExtension_MarkThreadIdle");
  p_free_sized = (void (*)(void *, size_t))sym("free_sized");
  p_free_aligned_sized = (void (*)(void *, size_t, size_t))sym("free_aligned_sized");
#ifdef HS_LINKED
  CHECK(get_prop == MallocExtension_GetNumericProperty);
#endif
  /* The malloc we call is the one whose statistics these are. */
  static const size_t sizes[] = {1, 17, 100, 1000, 5000, 100000, (1 << 20) + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    void *p = malloc(sizes[i]);
    CHECK(p);
    size_t u = malloc_usable_size(p);
    CHECKF(u == allocated_size(p), "size %zu: usable %zu vs heapscope %zu", sizes[i], u,
           allocated_size(p));
    CHECKF(u == estimated_size(sizes[i]), "size %zu: usable %zu, estimate %zu", sizes[i],
           u, estimated_size(sizes[i]));
    free(p);
  }
  int local;
  CHECK(allocated_size(&local) == 0);
  CHECK(malloc_usable_size(NULL) == 0);
  /* 10 MB through malloc shows up in heapscope's numbers. */
  size_t before = prop("generic.current_allocated_bytes");
  void *big = malloc(10 << 20);
  CHECK(prop("generic.current_allocated_bytes") >= before + (10 << 20));
  free(big);
}

/* ---- alignment --------------------------------------------------------- */
static void test_malloc_alignment(void) {
  enum { KEEP = 64 };
  void *keep[KEEP] = {0};
  int k = 0;
  for (size_t n = 0; n <= 300000; n += n < 4096 ? 1 : n < 70000 ? 13 : 97) {
    void *p = malloc(n);
    CHECKF(p != NULL, "malloc(%zu)", n);
    CHECKF(((uintptr_t)p & 15) == 0, "malloc(%zu) = %p", n, p);
    CHECKF(malloc_usable_size(p) >= n, "malloc(%zu) usable %zu", n, malloc_usable_size(p));
    touch(p, n);
    free(keep[k]);
    keep[k] = p;
    k = (k + 1) % KEEP;
  }
  for (int i = 0; i < KEEP; i++) free(keep[i]);
  /* malloc(0) returns a unique, freeable pointer */
  void *a = malloc(0), *b = malloc(0);
  CHECK(a && b && a != b);
  free(a);
  free(b);
}

static void test_aligned_functions(void) {
  static const size_t sizes[] = {0, 1, 8, 24, 100, 4095, 4096, 10000, 262144, 300000};
  for (size_t align = 1; align <= (1 << 20); align <<= 1) {
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
      size_t n = sizes[i];
      void *p = memalign(align, n);
      CHECKF(p && ((uintptr_t)p & (align - 1)) == 0, "memalign(%zu, %zu) = %p", align, n, p);
      CHECK(malloc_usable_size(p) >= n);
      touch(p, n);
      free(p);

      if (align >= sizeof(void *)) {
        void *q = (void *)1;
        errno = 4242;
        CHECKF(posix_memalign(&q, align, n) == 0, "posix_memalign(%zu, %zu)", align, n);
        CHECK(errno == 4242);
        CHECKF(q && ((uintptr_t)q & (align - 1)) == 0, "posix_memalign(%zu, %zu) = %p",
               align, n, q);
        CHECK(malloc_usable_size(q) >= n);
        touch(q, n);
        free(q);
      }

      void *r = aligned_alloc(align, n);
      CHECKF(r && ((uintptr_t)r & (align - 1)) == 0, "aligned_alloc(%zu, %zu) = %p", align,
             n, r);
      CHECK(malloc_usable_size(r) >= n);
      touch(r, n);
      p_free_aligned_sized(r, align, n);
    }
  }
  for (size_t n = 0; n < 100000; n = n * 2 + 1) {
    void *v = valloc(n);
    CHECKF(v && ((uintptr_t)v & 4095) == 0, "valloc(%zu) = %p", n, v);
    CHECK(malloc_usable_size(v) >= n);
    touch(v, n);
    free(v);
    void *pv = pvalloc(n);
    CHECKF(pv && ((uintptr_t)pv & 4095) == 0, "pvalloc(%zu) = %p", n, pv);
    /* pvalloc rounds the size up to whole pages */
    CHECK(malloc_usable_size(pv) >= ((n + 4095) & ~(size_t)4095));
    touch(pv, (n + 4095) & ~(size_t)4095);
    free(pv);
  }
}

static void test_aligned_errors(void) {
  static const size_t bad[] = {0, 3, 24, 4, 2, 1, 12, 48, 100, 4097};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t a = bad[i];
    int is_valid = a && !(a & (a - 1)) && a % sizeof(void *) == 0;
    if (is_valid) continue;
    void *out = (void *)0x1234;
    errno = 777;
    int rc = posix_memalign(&out, a, 64);
    CHECKF(rc == EINVAL, "posix_memalign(align=%zu) = %d", a, rc);
    CHECKF(errno == 777, "posix_memalign touched errno (%d)", errno);
    CHECK(out == (void *)0x1234);
  }
  /* aligned_alloc and memalign take any alignment, as glibc 2.36 does: a
   * non-power-of-two one is rounded up to the next power of two (0 means
   * none). */
  static const size_t npot[] = {0, 3, 24, 48, 100, 4097, 12345};
  for (size_t i = 0; i < sizeof npot / sizeof *npot; i++) {
    size_t want = 1;
    while (want < npot[i]) want <<= 1;
    errno = 0;
    void *p = aligned_alloc(npot[i], 64);
    CHECKF(p && ((uintptr_t)p & (want - 1)) == 0, "aligned_alloc(%zu) = %p errno %d",
           npot[i], p, errno);
    touch(p, 64);
    free(p);
    p = memalign(npot[i], 64);
    CHECKF(p && ((uintptr_t)p & (want - 1)) == 0, "memalign(%zu) = %p", npot[i], p);
    free(p);
  }
  /* Alignments of 2 and 4 GiB are served, as glibc serves them (address
   * space for the slack, no memory). */
  for (size_t a = (size_t)1 << 31; a <= ((size_t)1 << 32); a <<= 1) {
    void *big = NULL;
    CHECKF(posix_memalign(&big, a, 100) == 0, "posix_memalign(%zu)", a);
    CHECKF(big && ((uintptr_t)big & (a - 1)) == 0, "posix_memalign(%zu) = %p", a, big);
    touch(big, 100);
    free(big);
    big = memalign(a, 100);
    CHECKF(big && ((uintptr_t)big & (a - 1)) == 0, "memalign(%zu) = %p", a, big);
    free(big);
  }
  /* pvalloc(0), as glibc: a page-aligned block that can be written and freed. */
  void *pv0 = pvalloc(0);
  CHECK(pv0 && ((uintptr_t)pv0 & 4095) == 0 && malloc_usable_size(pv0) >= 1);
  touch(pv0, 1);
  free(pv0);
  /* posix_memalign out of memory: ENOMEM returned, errno untouched */
  void *out = (void *)0x1234;
  errno = 777;
  CHECK(posix_memalign(&out, 64, SIZE_MAX - 100) == ENOMEM);
  CHECK(errno == 777 && out == (void *)0x1234);
  errno = 0;
  CHECK(memalign(64, SIZE_MAX - 100) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(aligned_alloc(4096, SIZE_MAX / 2) == NULL && errno == ENOMEM);
}

/* ---- realloc ------------------------------------------------------------- */
static unsigned char pat(size_t i) { return (unsigned char)(i * 131 + (i >> 8) * 7 + 1); }

static void test_realloc(void) {
  /* NULL acts as malloc */
  char *p = realloc(NULL, 100);
  CHECK(p && ((uintptr_t)p & 15) == 0);
  memset(p, 'x', 100);
  /* shrink keeps the prefix */
  p = realloc(p, 10);
  CHECK(p);
  for (int i = 0; i < 10; i++) CHECK(p[i] == 'x');
  /* grow keeps contents */
  p = realloc(p, 5000);
  CHECK(p && malloc_usable_size(p) >= 5000);
  for (int i = 0; i < 10; i++) CHECK(p[i] == 'x');
  /* realloc(p, 0) frees and returns NULL (glibc) */
  errno = 0;
  CHECK(realloc(p, 0) == NULL);
  /* a failing realloc leaves the block intact */
  char *q = malloc(64);
  memset(q, 'q', 64);
  errno = 0;
  CHECK(realloc(q, SIZE_MAX - 1000) == NULL && errno == ENOMEM);
  for (int i = 0; i < 64; i++) CHECK(q[i] == 'q');
  free(q);

  /* content preserved while growing to 4 MiB in irregular steps, then
   * shrinking back (crosses small, large, and in-place paths) */
  size_t n = 1;
  unsigned char *b = malloc(n);
  b[0] = pat(0);
  while (n < (4u << 20)) {
    size_t m = n + n / 3 + 7;
    if (m > (4u << 20)) m = 4u << 20;
    b = realloc(b, m);
    CHECKF(b != NULL, "realloc to %zu", m);
    CHECK(((uintptr_t)b & 15) == 0);
    for (size_t i = 0; i < n; i++)
      if (b[i] != pat(i)) CHECKF(0, "realloc %zu -> %zu lost byte %zu", n, m, i);
    for (size_t i = n; i < m; i++) b[i] = pat(i);
    n = m;
  }
  while (n > 1) {
    size_t m = n / 3;
    if (!m) m = 1;
    b = realloc(b, m);
    CHECK(b);
    for (size_t i = 0; i < m; i++)
      if (b[i] != pat(i)) CHECKF(0, "shrink %zu -> %zu lost byte %zu", n, m, i);
    n = m;
  }
  free(b);

  /* Two big blocks grown in turns to 48 MiB: past 4 MiB they own their
   * mapping and move by mremap (into a freed block's cached mapping when
   * one fits); content checked at a stride. */
  unsigned char *g[2] = {malloc(100000), malloc(100000)};
  size_t gn[2] = {100000, 100000};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < gn[k]; i++) g[k][i] = pat(i + (size_t)k);
  while (gn[0] < (48u << 20)) {
    for (int k = 0; k < 2; k++) {
      size_t m = gn[k] + gn[k] / 2 + 4096 * (size_t)(k + 1) + 3;
      unsigned char *r = realloc(g[k], m);
      CHECKF(r != NULL, "realloc to %zu", m);
      for (size_t i = 0; i < gn[k]; i += 4099)
        if (r[i] != pat(i + (size_t)k)) CHECKF(0, "big realloc %zu -> %zu lost byte %zu", gn[k], m, i);
      CHECK(r[gn[k] - 1] == pat(gn[k] - 1 + (size_t)k));
      for (size_t i = gn[k]; i < m; i++) r[i] = pat(i + (size_t)k);
      g[k] = r;
      gn[k] = m;
    }
    /* a freed big block of the size just reached, for the next growth */
    void *spare = malloc(gn[0] * 2);
    CHECK(spare);
    memset(spare, 0xee, 4096);
    free(spare);
  }
  for (int k = 0; k < 2; k++) free(g[k]);
  /* A big calloc served from a freed, written mapping is zeroed. */
  unsigned char *dirty = malloc(9u << 20);
  memset(dirty, 0xff, 9u << 20);
  free(dirty);
  unsigned char *z = calloc(1, 9u << 20);
  CHECK(z);
  for (size_t i = 0; i < (9u << 20); i += 512) CHECKF(z[i] == 0, "calloc byte %zu", i);
  free(z);

  /* reallocarray */
  int *arr = reallocarray(NULL, 10, sizeof(int));
  CHECK(arr);
  for (int i = 0; i < 10; i++) arr[i] = i;
  arr = reallocarray(arr, 1000, sizeof(int));
  CHECK(arr);
  for (int i = 0; i < 10; i++) CHECK(arr[i] == i);
  errno = 0;
  CHECK(reallocarray(arr, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  CHECK(reallocarray(arr, (size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
  for (int i = 0; i < 10; i++) CHECK(arr[i] == i); /* untouched */
  free(arr);
}

/* ---- calloc ------------------------------------------------------------- */
static void check_zero(const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i]) CHECKF(0, "calloc'd byte %zu of %zu is %#x", i, n, c[i]);
}

static void test_calloc(void) {
  static const size_t sizes[] = {1, 16, 17, 100, 1024, 4000, 40000, 262144, 262145,
                                 1 << 20, (3 << 20) + 17};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    size_t n = sizes[i];
    for (int round = 0; round < 3; round++) {
      /* dirty the memory calloc is likely to get back, then free it */
      unsigned char *d = malloc(n);
      memset(d, 0xff, malloc_usable_size(d));
      free(d);
      unsigned char *z = calloc(1, n);
      CHECK(z);
      check_zero(z, n);
      memset(z, 0xee, n);
      free(z);
      z = calloc(n, 1);
      CHECK(z);
      check_zero(z, n);
      free(z);
    }
  }
  void *z0 = calloc(0, 0);
  CHECK(z0);
  free(z0);
  /* overflow of nmemb * size */
  static const size_t ov[][2] = {{SIZE_MAX, 2},
                                 {2, SIZE_MAX},
                                 {(size_t)1 << 32, (size_t)1 << 32},
                                 {SIZE_MAX / 16 + 1, 16},
                                 {SIZE_MAX, SIZE_MAX}};
  for (size_t i = 0; i < sizeof ov / sizeof *ov; i++) {
    errno = 0;
    void *p = calloc(ov[i][0], ov[i][1]);
    CHECKF(p == NULL && errno == ENOMEM, "calloc(%zu, %zu) = %p errno %d", ov[i][0],
           ov[i][1], p, errno);
  }
}

/* ---- impossible sizes --------------------------------------------------- */
static int overcommit_mode(void) {
  FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
  int mode = 1;
  if (f) {
    if (fscanf(f, "%d", &mode) != 1) mode = 1;
    fclose(f);
  }
  return mode;
}

static void test_huge(void) {
  /* Beyond any address space: refused by the allocator itself. */
  static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2, (size_t)1 << 62,
                                (size_t)1 << 48, (size_t)1 << 47};
  /* Mappable address space but no machine's memory: refused by the kernel
   * unless it overcommits everything (mode 1), as glibc's malloc is. */
  static const size_t big[] = {(size_t)1 << 46, (size_t)1 << 45, (size_t)1 << 43};
  for (size_t i = 0; i < sizeof huge / sizeof *huge + sizeof big / sizeof *big; i++) {
    size_t n = i < sizeof huge / sizeof *huge ? huge[i] : big[i - sizeof huge / sizeof *huge];
    if (n == big[0] && overcommit_mode() == 1) break;
    errno = 0;
    void *p = malloc(n);
    CHECKF(p == NULL && errno == ENOMEM, "malloc(%zu) = %p errno %d", n, p, errno);
    errno = 0;
    p = calloc(1, n);
    CHECKF(p == NULL && errno == ENOMEM, "calloc(1, %zu) = %p", n, p);
    errno = 0;
    p = memalign(4096, n);
    CHECKF(p == NULL && errno == ENOMEM, "memalign(4096, %zu) = %p", n, p);
    /* A failed realloc leaves the block alone and says ENOMEM, also when
     * the call was sampled (api.conformance_sampled). */
    char *old = malloc(100);
    old[99] = 7;
    errno = 0;
    p = realloc(old, n);
    CHECKF(p == NULL && errno == ENOMEM, "realloc(%zu) = %p errno %d", n, p, errno);
    CHECK(old[99] == 7);
    free(old);
  }
  /* still works afterwards */
  void *p = malloc(1 << 20);
  CHECK(p);
  free(p);
}

/* ---- glibc extras ---------------------------------------------------------- */
static void test_extras(void) {
  for (size_t n = 1; n < 2000000; n = n * 5 / 2 + 3) {
    void *p = malloc(n);
    CHECK(p && malloc_usable_size(p) >= n);
    memset(p, 1, malloc_usable_size(p)); /* the whole usable size is ours */
    p_free_sized(p, n);
  }
  p_free_sized(NULL, 0);
  p_free_aligned_sized(NULL, 64, 0);
  void *a = aligned_alloc(256, 1000);
  p_free_aligned_sized(a, 256, 1000);

  CHECK(mallopt(M_ARENA_MAX, 1) == 1);
  CHECK(malloc_trim(0) == 1);
  CHECK(prop("tcmalloc.pageheap_free_bytes") == 0);

  void *blocks[10];
  for (int i = 0; i < 10; i++) {
    blocks[i] = malloc(1 << 20);
    memset(blocks[i], 1, 1 << 20);
  }
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.arena >= (10u << 20));
  CHECK(mi.hblkhd >= (10u << 20));
  CHECK(mi.uordblks >= (10u << 20));
  CHECK(mi.uordblks <= mi.arena);
  CHECK(mi.fordblks <= mi.arena);
  for (int i = 0; i < 10; i++) free(blocks[i]);
  struct mallinfo2 mi2 = mallinfo2();
  CHECK(mi2.uordblks + (10u << 20) <= mi.uordblks + (1u << 20));
}

/* ---- MallocExtension -------------------------------------------------------- */
static void test_extension(void) {
  mark_idle();
  size_t base = prop("generic.current_allocated_bytes");
  size_t heap0 = prop("generic.heap_size");
  CHECK(heap0 >= base);
  CHECK(prop("generic.total_physical_bytes") > 0);
  (void)prop("tcmalloc.pageheap_free_bytes");
  (void)prop("tcmalloc.pageheap_unmapped_bytes");
  (void)prop("tcmalloc.central_cache_free_bytes");
  (void)prop("tcmalloc.thread_cache_free_bytes");
  (void)prop("tcmalloc.current_total_thread_cache_bytes");

  /* 10 MB in one block */
  char *big = malloc(10 << 20);
  memset(big, 1, 10 << 20);
  size_t with_big = prop("generic.current_allocated_bytes");
  CHECKF(with_big >= base + (10 << 20) && with_big <= base + (11 << 20),
         "base %zu with 10 MB %zu", base, with_big);
  CHECK(prop("generic.heap_size") >= with_big);
  free(big);
  size_t after = prop("generic.current_allocated_bytes");
  CHECKF(after <= base + (256 << 10), "base %zu after free %zu", base, after);
  /* the freed pages are free in the page heap (mapped or unmapped) */
  CHECK(prop("tcmalloc.pageheap_free_bytes") + prop("tcmalloc.pageheap_unmapped_bytes") >=
        (10u << 20));
  release_free();
  CHECK(prop("tcmalloc.pageheap_free_bytes") == 0);
  CHECK(prop("tcmalloc.pageheap_unmapped_bytes") >= (10u << 20));

  /* 10 MB in small objects */
  enum { N = 10240 };
  static void *objs[N];
  for (int i = 0; i < N; i++) {
    objs[i] = malloc(1000);
    memset(objs[i], 2, 1000);
  }
  size_t with_small = prop("generic.current_allocated_bytes");
  CHECKF(with_small >= base + N * 1000 && with_small <= base + N * 1000 + (2 << 20),
         "base %zu with 10 MB of small objects %zu", base, with_small);
  for (int i = 0; i < N; i++) free(objs[i]);
  after = prop("generic.current_allocated_bytes");
  CHECKF(after <= base + (256 << 10), "base %zu after free %zu", base, after);

  char stats[4096];
  memset(stats, 0, sizeof stats);
  get_stats(stats, sizeof stats);
  CHECK(strlen(stats) > 100);
  CHECK(strstr(stats, "MALLOC:") != NULL);
  get_stats(stats, 10); /* truncates and terminates */
  CHECK(strlen(stats) == 9);

  size_t v = 12345;
  CHECK(get_prop("no.such.property", &v) == 0);
  CHECK(get_prop("", &v) == 0);
  CHECK(get_prop("generic.current_allocated_bytes_x", &v) == 0);
}

/* ---- invalid frees abort with a report -------------------------------------- */
typedef enum { BAD_STACK, BAD_GLOBAL, BAD_LARGE_MIDDLE, BAD_SMALL_MIDDLE,
               BAD_DOUBLE_SMALL, BAD_DOUBLE_LARGE, BAD_REALLOC_STACK } bad_kind;
static const char *bad_names[] = {"stack", "global", "large-middle", "small-middle",
                                  "double-small", "double-large", "realloc-stack"};
static char a_global[64];

static void run_bad(bad_kind k, int fd) {
  char local[64];
  void *addr = NULL;
  char *p;
  switch (k) {
  case BAD_STACK: addr = local; break;
  case BAD_GLOBAL: addr = a_global; break;
  case BAD_LARGE_MIDDLE:
    p = malloc(1 << 20);
    addr = p + 4096;
    break;
  case BAD_SMALL_MIDDLE:
    p = malloc(100);
    addr = p + 1;
    break;
  case BAD_DOUBLE_SMALL:
    p = malloc(40);
    free(p);
    addr = p;
    break;
  case BAD_DOUBLE_LARGE:
    p = malloc(1 << 20);
    free(p);
    addr = p;
    break;
  case BAD_REALLOC_STACK: {
    char msg[64];
    int len = snprintf(msg, sizeof msg, "ADDR %p\n", (void *)local);
    (void)!write(fd, msg, (size_t)len);
    sink += (size_t)realloc(local, 100);
    _exit(0);
  }
  }
  char msg[64];
  int len = snprintf(msg, sizeof msg, "ADDR %p\n", addr);
  (void)!write(fd, msg, (size_t)len);
  free(addr);
  _exit(0); /* not reached if the free was caught */
}

static void run_bad_child(int fd, const void *kind) { run_bad(*(const bad_kind *)kind, fd); }

static void test_invalid_free(void) {
  for (int k = BAD_STACK; k <= BAD_REALLOC_STACK; k++) {
    bad_kind kind = (bad_kind)k;
    char out[4096];
    int status = run_child_capturing_stderr(run_bad_child, &kind, out, sizeof out);
    CHECK(status != -1);
    CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
           "%s: child did not abort (status %#x), output:\n%s", bad_names[k], status, out);
    char *a = strstr(out, "ADDR ");
    CHECK(a);
    char addr[32];
    CHECK(sscanf(a + 5, "%31s", addr) == 1);
    char *report = strstr(out, "heapscope: invalid free");
    CHECKF(report != NULL, "%s: no report in:\n%s", bad_names[k], out);
    CHECKF(strstr(report, addr) != NULL, "%s: address %s not in report:\n%s", bad_names[k],
           addr, out);
  }
}

int main(void) {
  test_active();
  test_malloc_alignment();
  test_aligned_functions();
  test_aligned_errors();
  test_realloc();
  test_calloc();
  test_huge();
  test_extras();
  test_extension();
  test_invalid_free();
  puts("api conformance ok");
  return 0;
}
