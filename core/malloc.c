/* The C allocation API. Exported under the standard names so that linking
 * the runtime or preloading it replaces glibc's allocator for the whole
 * process.
 *
 * Fast paths: malloc is size->class (two loads), a TLS list pop, and one
 * predictable branch on hs__hooked; free is a page-map lookup, a span range
 * check, a TLS list push and the same branch. Everything else (refills,
 * large objects, recording, validation failures) is out of line.
 *
 * hs__hooked is non-zero when allocations must be recorded or when some
 * thread is inside the runtime (its allocations then go to the internal
 * heap): both are decided in the slow path so the fast path pays one test. */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

_Atomic int hs__initialized;
static hs_lock_t init_lock;
hs_lock_t *const hs__init_lock = &init_lock;
void hs__tcache_global_init(void);
void hs__record_early_init(void);

HS_COLD static void init_slow(void) {
  hs__lock(&init_lock);
  if (!atomic_load_explicit(&hs__initialized, memory_order_relaxed)) {
    hs__sizeclass_init();
    hs__tcache_global_init();
    atomic_store_explicit(&hs__initialized, 1, memory_order_release);
    hs__record_early_init(); /* may turn recording on (HEAPCHECK, ...) */
  }
  hs__unlock(&init_lock);
}

void hs__ensure_init(void) {
  if (HS_UNLIKELY(!atomic_load_explicit(&hs__initialized, memory_order_acquire)))
    init_slow();
}

void hs__invalid_free(const void *p, const char *what) {
  hs__errorf("invalid free of %p: %s; aborting", p, what);
  abort();
}

/* ---- allocation ---------------------------------------------------------- */

HS_NOINLINE static void *alloc_large(size_t n, size_t align) {
  hs__ensure_init();
  if (n > ((size_t)1 << 46) || align > ((size_t)1 << 30)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t extra = align > HS_PAGE_SIZE ? align : 0;
  size_t pages = (n + extra + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
  if (pages == 0) pages = 1;
  hs_span_t *s = hs__pageheap_alloc(pages, HS_SPAN_LARGE);
  if (!s) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t p = extra ? (s->start + align - 1) & ~(uintptr_t)(align - 1) : s->start;
  s->large_size = n;
  s->carve = p;
  return (void *)p;
}

static inline void *alloc_small(uint32_t cls) {
  hs_freelist_t *l = &hs__tcache.lists[cls];
  void *p = l->head;
  if (HS_LIKELY(p != NULL)) {
    l->head = *(void **)p;
    l->len--;
    return p;
  }
  return hs__tcache_alloc_slow(cls);
}

void *hs__alloc(size_t n) {
  void *p;
  if (HS_LIKELY(n <= HS_MAX_SMALL)) {
    uint32_t cls = hs__size_to_class(n);
    if (HS_UNLIKELY(cls == 0)) { /* tables not built yet */
      hs__ensure_init();
      cls = hs__size_to_class(n);
    }
    p = alloc_small(cls);
  } else {
    p = alloc_large(n, 0);
  }
  if (HS_UNLIKELY(!p)) errno = ENOMEM;
  return p;
}

static bool is_pow2(size_t a) { return a && !(a & (a - 1)); }

void *hs__alloc_aligned(size_t align, size_t n) {
  if (align <= HS_MIN_ALIGN) return hs__alloc(n);
  hs__ensure_init();
  if (align <= HS_PAGE_SIZE && n <= HS_MAX_SMALL) {
    /* Spans start on page boundaries, so a class whose size is a multiple
     * of align hands out aligned objects. Power-of-two classes exist up to
     * HS_MAX_SMALL, so the search always ends. */
    for (uint32_t cls = hs__size_to_class(n ? n : 1); cls < hs__num_classes; cls++)
      if (hs__classes[cls].size % align == 0) {
        void *p = alloc_small(cls);
        if (!p) errno = ENOMEM;
        return p;
      }
  }
  return alloc_large(n, align);
}

/* ---- deallocation -------------------------------------------------------- */

void hs__forget_record(void *p, hs_span_t *s);

/* Push a small block on this thread's cache list. */
static inline void tcache_push(void *p, uint32_t cls) {
  hs_freelist_t *l = &hs__tcache.lists[cls];
  if (HS_UNLIKELY(l->head == p)) hs__invalid_free(p, "double free");
  if (HS_LIKELY(l->len < l->max_len)) {
    *(void **)p = l->head;
    l->head = p;
    l->len++;
    return;
  }
  hs__tcache_free_slow(p, cls);
}

/* Free p, which lies in span s: validates, clears the block's record when
 * the span keeps records (forget; the full-recording path has done that
 * already), and returns the block to its cache, span or internal heap. */
static void dealloc_span(void *p, hs_span_t *s, bool forget) {
  if (!s || (uintptr_t)p - s->start >= (s->npages << HS_PAGE_SHIFT))
    hs__invalid_free(p, "pointer was not allocated by heapscope");
  switch (s->kind) {
  case HS_SPAN_LARGE:
    if ((uintptr_t)p != s->carve)
      hs__invalid_free(p, "pointer is inside a block, not its start");
    if (forget && s->large_rec.bucket) hs__forget_record(p, s); /* a sampled block */
    hs__pageheap_free(s);
    return;
  case HS_SPAN_INTERNAL:
  case HS_SPAN_INTERNAL_LARGE:
    hs__arena_free(p);
    return;
  case HS_SPAN_SMALL: {
    uint32_t cls = s->sizeclass;
    uintptr_t off = (uintptr_t)p - s->start;
    if ((uintptr_t)hs__obj_index(cls, off) * hs__classes[cls].size != off)
      hs__invalid_free(p, "pointer is inside a block, not its start");
    if (forget) hs__forget_record(p, s); /* sampled profiling */
    tcache_push(p, cls);
    return;
  }
  default:
    hs__invalid_free(p, "block is not allocated (double free?)");
  }
}

HS_NOINLINE static void dealloc_slow(void *p, hs_span_t *s) { dealloc_span(p, s, true); }

/* For the full-recording path, which has cleared the record itself. */
void hs__dealloc_recorded_span(void *p, hs_span_t *s) { dealloc_span(p, s, false); }

static inline __attribute__((always_inline)) void dealloc_inline(void *p) {
  if (HS_UNLIKELY(!p)) return;
  /* Fast path: a user small-object page (its class byte is set only while
   * its span belongs to a class) and a 16-byte aligned pointer.
   * cls >= HS_CLASS_RECORDED: the span keeps records (sampled profiling):
   * the slow path clears the block's record first. */
  uint32_t cls = hs__pagemap_class((uintptr_t)p);
  if (HS_LIKELY(cls != 0 && cls < HS_CLASS_RECORDED && ((uintptr_t)p & (HS_MIN_ALIGN - 1)) == 0)) {
    tcache_push(p, cls);
    return;
  }
  dealloc_slow(p, hs__pagemap_get((uintptr_t)p));
}

void hs__dealloc(void *p) { dealloc_inline(p); }

size_t hs__usable_size(const void *p) {
  if (!p) return 0;
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (!s || (uintptr_t)p - s->start >= (s->npages << HS_PAGE_SHIFT)) return 0;
  switch (s->kind) {
  case HS_SPAN_SMALL:
  case HS_SPAN_INTERNAL:
    return hs__classes[s->sizeclass].size;
  case HS_SPAN_LARGE:
  case HS_SPAN_INTERNAL_LARGE:
    return s->start + (s->npages << HS_PAGE_SHIFT) - (uintptr_t)p;
  default:
    return 0;
  }
}

static void *realloc_plain(void *p, size_t n) {
  size_t old = hs__usable_size(p);
  if (!old) hs__invalid_free(p, "realloc of a pointer not allocated by heapscope");
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (s->kind == HS_SPAN_INTERNAL || s->kind == HS_SPAN_INTERNAL_LARGE)
    return hs__arena_realloc(p, n);
  /* In place when the block already fits and would not waste over half. */
  if (n <= old && (n > old / 2 || old <= 32)) {
    if (s->kind == HS_SPAN_LARGE) s->large_size = n;
    return p;
  }
  /* A large block grows in place when the pages after it are free. */
  if (s->kind == HS_SPAN_LARGE && n > old && n <= ((size_t)1 << 46)) {
    size_t want = ((uintptr_t)p - s->start + n + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
    if (hs__pageheap_try_grow(s, want)) {
      s->large_size = n;
      return p;
    }
  }
  void *q = hs__alloc(n);
  if (!q) return NULL;
  memcpy(q, p, old < n ? old : n);
  hs__dealloc(p);
  return q;
}

/* ---- public entry points ------------------------------------------------- */

#define HOOKED() HS_UNLIKELY(atomic_load_explicit(&hs__hooked, memory_order_relaxed))

HS_EXPORT void *malloc(size_t n) {
  if (HOOKED() || hs__sample_due(n)) return hs__alloc_recorded(n, 0, false);
  if (HS_LIKELY(n <= HS_MAX_SMALL)) {
    uint32_t cls = hs__size_to_class(n);
    hs_freelist_t *l = &hs__tcache.lists[cls];
    void *p = l->head;
    if (HS_LIKELY(p != NULL)) {
      l->head = *(void **)p;
      l->len--;
      return p;
    }
  }
  return hs__alloc(n);
}

HS_EXPORT void free(void *p) {
  if (HOOKED()) {
    hs__dealloc_recorded(p);
    return;
  }
  dealloc_inline(p);
}

HS_EXPORT void *calloc(size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  if (HOOKED() || hs__sample_due(n)) return hs__alloc_recorded(n, 0, true);
  void *p = hs__alloc(n);
  if (p) memset(p, 0, n);
  return p;
}

/* Inlined into realloc and reallocarray: the recorder expects to be called
 * directly by the public entry point. */
static inline __attribute__((always_inline)) void *realloc_impl(void *p, size_t n) {
  if (HOOKED() || hs__sample_due(n)) return hs__realloc_recorded(p, n);
  if (!p) return hs__alloc(n);
  if (n == 0) {
    hs__dealloc(p);
    return NULL;
  }
  return realloc_plain(p, n);
}

HS_EXPORT void *realloc(void *p, size_t n) { return realloc_impl(p, n); }

/* Used by record.c: realloc without recording decisions. */
void *hs__realloc_plain(void *p, size_t n) { return realloc_plain(p, n); }

HS_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc_impl(p, n);
}

/* Inlined into every entry point: the recorder expects to be called directly
 * by the public function whose caller is the user. */
static inline __attribute__((always_inline)) void *memalign_impl(size_t align, size_t n) {
  if (HOOKED() || hs__sample_due(n)) return hs__alloc_recorded(n, align, false);
  return hs__alloc_aligned(align, n);
}

HS_EXPORT void *memalign(size_t align, size_t n) {
  /* glibc rounds a non-power-of-two alignment up to the next power of 2. */
  if (!is_pow2(align)) {
    if (align > ((size_t)1 << 62)) {
      errno = EINVAL;
      return NULL;
    }
    size_t a = HS_MIN_ALIGN;
    while (a < align) a <<= 1;
    align = a;
  }
  return memalign_impl(align, n);
}

HS_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!is_pow2(align) || align % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *p = memalign_impl(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HS_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (!is_pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return memalign_impl(align, n);
}

static size_t os_page(void) {
  static size_t page;
  if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

HS_EXPORT void *valloc(size_t n) { return memalign_impl(os_page(), n); }

HS_EXPORT void *pvalloc(size_t n) {
  size_t pg = os_page();
  if (n > SIZE_MAX - pg) {
    errno = ENOMEM;
    return NULL;
  }
  return memalign_impl(pg, (n + pg - 1) & ~(pg - 1));
}

HS_EXPORT size_t malloc_usable_size(void *p) { return hs__usable_size(p); }

HS_EXPORT void free_sized(void *p, size_t n) {
  (void)n;
  free(p);
}

HS_EXPORT void free_aligned_sized(void *p, size_t align, size_t n) {
  (void)align;
  (void)n;
  free(p);
}

HS_EXPORT void cfree(void *p) { free(p); }

HS_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  hs__tcache_flush_current();
  hs__pageheap_release_all();
  return 1;
}

HS_EXPORT int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1; /* accepted and ignored, as tcmalloc does */
}

HS_EXPORT struct mallinfo2 mallinfo2(void) {
  hs_heap_stats_t st;
  hs__pageheap_stats(&st);
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  size_t cached = hs__tcache_total_bytes();
  size_t central = 0;
  for (uint32_t c = 1; c < hs__num_classes; c++)
    central += hs__central_free_bytes(&hs__central[c], c);
  size_t in_use = st.large_bytes + st.small_span_bytes;
  mi.arena = st.heap_bytes;
  mi.hblkhd = st.large_bytes;
  mi.uordblks = in_use > cached + central ? in_use - cached - central : 0;
  mi.fordblks = st.free_bytes + cached + central;
  mi.fsmblks = cached + central;
  mi.keepcost = st.free_bytes;
  return mi;
}

HS_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  mi.arena = (int)m2.arena;
  mi.ordblks = (int)m2.ordblks;
  mi.smblks = (int)m2.smblks;
  mi.hblks = (int)m2.hblks;
  mi.hblkhd = (int)m2.hblkhd;
  mi.usmblks = (int)m2.usmblks;
  mi.fsmblks = (int)m2.fsmblks;
  mi.uordblks = (int)m2.uordblks;
  mi.fordblks = (int)m2.fordblks;
  mi.keepcost = (int)m2.keepcost;
  return mi;
}

/* glibc-internal names some programs and libraries call directly. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
HS_EXPORT void *__libc_malloc(size_t n) __attribute__((alias("malloc")));
HS_EXPORT void __libc_free(void *p) __attribute__((alias("free")));
HS_EXPORT void *__libc_calloc(size_t a, size_t b) __attribute__((alias("calloc")));
HS_EXPORT void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc")));
HS_EXPORT void *__libc_memalign(size_t a, size_t n) __attribute__((alias("memalign")));
HS_EXPORT void *__libc_valloc(size_t n) __attribute__((alias("valloc")));
HS_EXPORT void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc")));
HS_EXPORT int __posix_memalign(void **o, size_t a, size_t n) __attribute__((alias("posix_memalign")));
#pragma GCC diagnostic pop

