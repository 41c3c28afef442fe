/* The user heap without recording: small blocks from thread caches, large
 * blocks as whole spans, validation of every pointer handed back, realloc,
 * statistics and fork. The public malloc family (core/api/malloc.c) calls
 * these after its inline fast paths (core/alloc/alloc.h). */
#include "core/alloc/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

_Atomic int hs__alloc_ready;
_Atomic int hs__hooked;
HS_TLS hs_thread_alloc_t hs__thread;
static hs_lock_t init_lock;
uintptr_t hs__free_key;

/* The free key: random per process (the kernel's AT_RANDOM bytes, mixed
 * with the clock and ASLR), so a program's data match it only by chance. */
static uintptr_t make_free_key(void) {
  uint64_t k = hs__now_ns() ^ (uintptr_t)&init_lock ^ ((uint64_t)(uintptr_t)&k << 17);
  const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);
  if (r) k ^= r[0] * 0x9E3779B97F4A7C15ull ^ r[1];
  k ^= k >> 29;
  k *= 0xBF58476D1CE4E5B9ull;
  k ^= k >> 32;
  return (uintptr_t)(k | 1); /* never 0: zeroed memory must not match */
}

HS_COLD static void init_slow(void) {
  hs__lock(&init_lock);
  if (!atomic_load_explicit(&hs__alloc_ready, memory_order_relaxed)) {
    hs__free_key = make_free_key();
    hs__sizeclass_init();
    hs__tcache_global_init();
    atomic_store_explicit(&hs__alloc_ready, 1, memory_order_release);
  }
  hs__unlock(&init_lock);
}

void hs__alloc_init(void) {
  if (HS_UNLIKELY(!atomic_load_explicit(&hs__alloc_ready, memory_order_acquire))) init_slow();
}

void hs__invalid_free(const void *p, const char *what) {
  hs__errorf("invalid free of %p: %s; aborting", p, what);
  abort();
}

/* ---- allocation ---------------------------------------------------------- */

static size_t pages_for(size_t bytes) { return (bytes + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT; }

/* A block of n bytes as a whole span: from the page heap, or with its own
 * mapping from HS_MAP_MIN bytes on (with room for `room` bytes, so that a
 * block realloc grows step by step is moved only now and then). */
static void *alloc_large_room(size_t n, size_t align, size_t room) {
  hs__alloc_init();
  /* Alignments up to 2^40 are served (glibc serves 4 GiB ones), from a
   * span of n + align bytes: address space, not memory, for the slack. */
  if (n > ((size_t)1 << 46) || align > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t extra = align > HS_PAGE_SIZE ? align : 0;
  size_t pages = pages_for(n + extra);
  if (pages == 0) pages = 1;
  hs_span_t *s;
  if (n >= HS_MAP_MIN && !extra) s = hs__pageheap_alloc_mapped(pages_for(room > n ? room : n));
  else s = hs__pageheap_alloc(pages, HS_SPAN_LARGE);
  if (!s) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t p = extra ? (s->start + align - 1) & ~(uintptr_t)(align - 1) : s->start;
  s->large_size = n;
  s->carve = p;
  return (void *)p;
}

HS_NOINLINE static void *alloc_large(size_t n, size_t align) { return alloc_large_room(n, align, n); }

static inline void *alloc_small(uint32_t cls) {
  hs_freelist_t *l = &hs__tcache.lists[cls];
  void **p = l->head;
  if (HS_LIKELY(p != NULL)) {
    l->head = p[0];
    l->len--;
  } else {
    p = hs__tcache_alloc_slow(cls);
    if (!p) return NULL;
  }
  p[HS_KEY_WORD] = NULL; /* live: no free key */
  return p;
}

void *hs__alloc(size_t n) {
  void *p;
  if (HS_LIKELY(n <= HS_MAX_SMALL)) {
    uint32_t cls = hs__size_to_class(n);
    if (HS_UNLIKELY(cls == 0)) { /* tables not built yet */
      hs__alloc_init();
      cls = hs__size_to_class(n);
    }
    p = alloc_small(cls);
  } else {
    p = alloc_large(n, 0);
  }
  if (HS_UNLIKELY(!p)) errno = ENOMEM;
  return p;
}

void *hs__alloc_aligned(size_t align, size_t n) {
  if (align <= HS_MIN_ALIGN) return hs__alloc(n);
  hs__alloc_init();
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

void hs__dealloc_block(const hs_block_t *b) {
  hs_span_t *s = b->span;
  if (b->kind == HS_BLOCK_INTERNAL) {
    hs__arena_free((void *)b->start);
  } else if (b->large) {
    hs__pageheap_free(s);
  } else {
    hs__tcache_push((void *)b->start, s->sizeclass);
  }
}

void hs__dealloc(void *p) {
  if (hs__dealloc_fast(p) || !p) return;
  hs_block_t b;
  hs__block_at(p, false, 0, &b);
  if (b.kind == HS_BLOCK_INVALID) hs__invalid_free(p, b.why);
  hs__dealloc_block(&b);
}

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

/* Room for a big block that realloc grows: half as much again, so growth by
 * a constant factor moves it O(log n) times (amortized O(1) per byte). The
 * headroom is address space only until it is written. */
static size_t grow_room(size_t n) { return n > ((size_t)1 << 45) ? n : n + n / 2; }

/* realloc of a large block without copying: in place when it fits, by
 * resizing its own mapping (pages move, bytes are not copied; the span, and
 * the record in it, stay the same), or by taking the free pages after it.
 * The block's address, or NULL when it must be copied. */
static void *resize_large(hs_span_t *s, void *p, size_t old, size_t n) {
  uintptr_t off = (uintptr_t)p - s->start;
  if (n <= old) {
    if (n > old / 2) {
      s->large_size = n;
      return p;
    }
    if (s->mapped && n >= HS_MAP_MIN && hs__pageheap_remap(s, pages_for(off + n))) {
      s->large_size = n; /* shrunk in place: mremap never moves to shrink */
      return p;
    }
  } else if (n <= ((size_t)1 << 46)) {
    if (s->mapped) {
      if (hs__pageheap_remap(s, pages_for(off + grow_room(n)))) {
        s->carve = s->start + off;
        s->large_size = n;
        return (void *)s->carve;
      }
    } else if (hs__pageheap_try_grow(s, pages_for(off + n))) {
      s->large_size = n;
      return p;
    }
  }
  return NULL;
}

/* realloc of a large block: without copying when it can (resize_large),
 * else by copying. NULL (p untouched) when out of memory. */
static void *realloc_large(hs_span_t *s, void *p, size_t old, size_t n) {
  void *r = resize_large(s, p, old, n);
  if (r) return r;
  void *q = hs__alloc_for_realloc(n);
  if (!q) return NULL;
  memcpy(q, p, old < n ? old : n);
  hs__pageheap_free(s);
  return q;
}

void *hs__alloc_for_realloc(size_t n) {
  return n >= HS_MAP_MIN ? alloc_large_room(n, 0, grow_room(n)) : hs__alloc(n);
}

void *hs__realloc_keep_block(const hs_block_t *b, size_t n) {
  if (b->kind != HS_BLOCK_USER) return NULL;
  hs_span_t *s = b->span;
  void *p = (void *)b->start;
  size_t old = hs__usable_size(p);
  if (s->kind == HS_SPAN_LARGE) return resize_large(s, p, old, n);
  return n <= old && (n > old / 2 || old <= 32) ? p : NULL;
}

void *hs__realloc_plain(void *p, size_t n) {
  hs_block_t b;
  hs__block_at(p, false, 0, &b);
  if (b.kind == HS_BLOCK_INVALID) hs__invalid_free(p, b.why);
  if (b.kind == HS_BLOCK_INTERNAL) return hs__arena_realloc(p, n);
  hs_span_t *s = b.span;
  size_t old = hs__usable_size(p);
  if (s->kind == HS_SPAN_LARGE) return realloc_large(s, p, old, n);
  if (HS_UNLIKELY(((uintptr_t *)p)[HS_KEY_WORD] == hs__free_key) &&
      hs__small_block_is_free(p, s->sizeclass))
    hs__invalid_free(p, "realloc of a freed block");
  /* In place when the block already fits and would not waste over half. */
  if (n <= old && (n > old / 2 || old <= 32)) return p;
  void *q = hs__alloc(n);
  if (!q) return NULL;
  memcpy(q, p, old < n ? old : n);
  hs__dealloc(p);
  return q;
}

/* ---- statistics ------------------------------------------------------------ */

void hs__alloc_stats(hs_alloc_stats_t *out) {
  hs__alloc_init();
  hs__pageheap_stats(&out->heap);
  out->thread_cache = hs__tcache_total_bytes();
  out->central = 0;
  for (uint32_t c = 1; c < hs__num_classes; c++)
    out->central += hs__central_free_bytes(&hs__central[c], c);
  size_t in_spans = out->heap.large_bytes + out->heap.small_span_bytes;
  size_t cached = out->thread_cache + out->central;
  out->allocated = in_spans > cached ? in_spans - cached : 0;
  out->classes = hs__num_classes - 1;
}

void hs__alloc_thread_idle(void) { hs__tcache_flush_current(); }

size_t hs__alloc_thread_cache_bytes(void) {
  size_t total = 0;
  for (uint32_t c = 1; c < hs__num_classes; c++)
    total += (size_t)hs__tcache.lists[c].len * hs__classes[c].size;
  return total;
}

void hs__alloc_release_free(void) {
  hs__tcache_flush_current();
  hs__pageheap_release_all();
}

size_t hs__alloc_estimated_size(size_t n) {
  hs__alloc_init();
  if (n <= HS_MAX_SMALL) return hs__classes[hs__size_to_class(n)].size;
  return (n + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1);
}

size_t hs__alloc_estimated_size_aligned(size_t align, size_t n) {
  if (align <= HS_MIN_ALIGN) return hs__alloc_estimated_size(n);
  hs__alloc_init();
  if (align <= HS_PAGE_SIZE && n <= HS_MAX_SMALL) /* as hs__alloc_aligned picks */
    for (uint32_t cls = hs__size_to_class(n ? n : 1); cls < hs__num_classes; cls++)
      if (hs__classes[cls].size % align == 0) return hs__classes[cls].size;
  return n ? (n + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1) : HS_PAGE_SIZE;
}

/* ---- fork ------------------------------------------------------------------ */

void hs__alloc_locks(hs_lock_list_t *out) {
  hs__alloc_init(); /* the class count */
  hs__lock_list_add(out, &init_lock, "allocator init");
  hs__lock_list_add(out, hs__span_mark_lock, "sampled span marks");
  for (uint32_t c = 1; c < hs__num_classes; c++)
    hs__lock_list_add(out, &hs__central[c].lock, "central list");
  for (uint32_t c = 1; c < hs__num_classes; c++)
    hs__lock_list_add(out, &hs__icentral[c].lock, "internal central list");
  hs__lock_list_add(out, &hs__pageheap_lock, "page heap");
  hs__lock_list_add(out, hs__tcache_registry_lock, "thread-cache registry");
}

void hs__alloc_postfork_child(void) { hs__tcache_postfork_child(); }

void hs__alloc_lock_spans(void) { hs__lock(&hs__pageheap_lock); }
void hs__alloc_unlock_spans(void) { hs__unlock(&hs__pageheap_lock); }
