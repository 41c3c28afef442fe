/* The C allocation API. Exported under the standard names so that linking
 * the runtime or preloading it replaces glibc's allocator for the whole
 * process.
 *
 * Each entry point is the allocator's inline fast path (core/alloc/alloc.h)
 * behind one predictable branch: hs__hooked (recording every allocation, or
 * some thread inside the runtime) or a due sample sends the call to the
 * recorder (core/record/record.h), which calls back into the allocator.
 * The recorder expects to be called directly by these functions: stacks
 * start at their caller, the user.
 *
 * malloc, free, calloc and realloc keep no frame (HS_FRAMELESS): their fast
 * paths then push and pop nothing (a frame pointer's store and load were
 * ~7 % of a malloc(32)+free pair). They reach the recorder only by a jump
 * to an hs__entry_* function, whose frame stands in for theirs. */
#include "core/api/runtime.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_pow2(size_t a) { return a && !(a & (a - 1)); }

/* ---- public entry points ------------------------------------------------- */

/* A function without a frame of its own, which makes its calls into the
 * recorder as tail calls (jumps: the file is otherwise built without
 * sibling calls). Its every call of an hs__entry_* function must be a
 * `return f(...)`: a real call from a frameless function would lose the
 * user's frame. Only where the compiler is known to honour it (GCC's
 * optimize attribute) and optimizes (at -O0 it makes no tail calls);
 * elsewhere the entry points keep their frames and call the recorder
 * directly, as the other entry points do. tests/api/api_entry_frames.c
 * checks every entry point's first recorded frame. */
#if defined(__OPTIMIZE__) && defined(__GNUC__) && !defined(__clang__)
#define HS_FRAMELESS __attribute__((optimize("omit-frame-pointer", "optimize-sibling-calls")))
#define ENTRY_ALLOC_RECORDED hs__entry_alloc_recorded
#define ENTRY_DEALLOC_RECORDED hs__entry_dealloc_recorded
#define ENTRY_REALLOC_RECORDED hs__entry_realloc_recorded
#else
#define HS_FRAMELESS
#define ENTRY_ALLOC_RECORDED hs__alloc_recorded
#define ENTRY_DEALLOC_RECORDED hs__dealloc_recorded
#define ENTRY_REALLOC_RECORDED hs__realloc_recorded
#endif

HS_EXPORT HS_FRAMELESS void *malloc(size_t n) {
  if (hs__alloc_leaves_fast_path(n)) return ENTRY_ALLOC_RECORDED(n, 0, false);
  void *p = hs__alloc_fast(n);
  return HS_LIKELY(p != NULL) ? p : hs__alloc(n);
}

/* Inlined into free and the other names of free: the recorder expects to
 * be called (or jumped to) by the public entry point itself. (Their call
 * of free was a jump only where HS_FRAMELESS is: elsewhere, clang or -O0,
 * it was a real call and the entry point was recorded as frame #0.) */
static inline __attribute__((always_inline)) void free_impl(void *p) {
  if (hs__dealloc_leaves_fast_path()) {
    ENTRY_DEALLOC_RECORDED(p);
    return;
  }
  if (HS_LIKELY(hs__dealloc_fast(p))) return;
  hs__dealloc_unhooked(p);
}

HS_EXPORT HS_FRAMELESS void free(void *p) { free_impl(p); }

HS_EXPORT HS_FRAMELESS void *calloc(size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  if (hs__alloc_leaves_fast_path(n)) return ENTRY_ALLOC_RECORDED(n, 0, true);
  void *p = hs__alloc(n);
  if (p) memset(p, 0, n);
  return p;
}

/* Inlined into realloc and reallocarray: the recorder expects to be called
 * directly by the public entry point. (Its calls that are not tail calls
 * record nothing and capture no stack.) */
static inline __attribute__((always_inline)) void *realloc_impl(void *p, size_t n) {
  if (hs__alloc_leaves_fast_path(n)) return ENTRY_REALLOC_RECORDED(p, n);
  if (!p) return hs__alloc(n);
  if (n == 0) {
    if (!hs__dealloc_fast(p)) hs__dealloc_unhooked(p);
    return NULL;
  }
  return hs__realloc_unhooked(p, n);
}

HS_EXPORT HS_FRAMELESS void *realloc(void *p, size_t n) { return realloc_impl(p, n); }

HS_EXPORT HS_FRAMELESS void *reallocarray(void *p, size_t nmemb, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(nmemb, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc_impl(p, n);
}

/* Inlined into every entry point: the recorder expects to be called directly
 * by the public function whose caller is the user. (These keep their
 * frames: posix_memalign does more after the call.) */
static inline __attribute__((always_inline)) void *memalign_impl(size_t align, size_t n) {
  if (hs__alloc_leaves_fast_path(n)) return hs__alloc_recorded(n, align, false);
  return hs__alloc_aligned(align, n);
}

/* glibc (2.36, Debian 12) rounds a non-power-of-two alignment up to the
 * next power of 2 in memalign and aligned_alloc alike; 0 means none. */
static inline __attribute__((always_inline)) void *memalign_rounded(size_t align, size_t n) {
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

HS_EXPORT void *memalign(size_t align, size_t n) { return memalign_rounded(align, n); }

HS_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!is_pow2(align) || align % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *p = memalign_impl(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HS_EXPORT void *aligned_alloc(size_t align, size_t n) { return memalign_rounded(align, n); }

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

HS_EXPORT HS_FRAMELESS void free_sized(void *p, size_t n) {
  (void)n;
  free_impl(p);
}

HS_EXPORT HS_FRAMELESS void free_aligned_sized(void *p, size_t align, size_t n) {
  (void)align;
  (void)n;
  free_impl(p);
}

HS_EXPORT HS_FRAMELESS void cfree(void *p) { free_impl(p); }

HS_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  hs__alloc_release_free();
  return 1;
}

HS_EXPORT int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1; /* accepted and ignored, as tcmalloc does */
}

HS_EXPORT struct mallinfo2 mallinfo2(void) {
  hs_alloc_stats_t st;
  hs__alloc_stats(&st);
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  size_t cached = st.thread_cache + st.central;
  mi.arena = st.heap.heap_bytes;
  mi.hblkhd = st.heap.large_bytes;
  mi.uordblks = st.allocated;
  mi.fordblks = st.heap.free_bytes + cached;
  mi.fsmblks = cached;
  mi.keepcost = st.heap.free_bytes;
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
