/* The user heap without recording: small blocks from thread caches, large
 * blocks as whole spans, validation of every pointer handed back, realloc,
 * statistics and fork. The public malloc family (core/api/malloc.c) calls
 * these after its inline fast paths (core/alloc/alloc.h). */
#include "core/alloc/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Atomic int hs__alloc_ready;
_Atomic int hs__hooked;
HS_TLS hs_thread_state_t hs__tstate;
static hs_lock_t init_lock;

HS_COLD static void init_slow(void) {
  hs__lock(&init_lock);
  if (!atomic_load_explicit(&hs__alloc_ready, memory_order_relaxed)) {
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

HS_NOINLINE static void *alloc_large(size_t n, size_t align) {
  hs__alloc_init();
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
  if (hs__dealloc_fast(p)) return;
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

void *hs__realloc_plain(void *p, size_t n) {
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

void hs__alloc_prefork(void) {
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__lock(&hs__central[c].lock);
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__lock(&hs__icentral[c].lock);
  hs__lock(&hs__pageheap_lock);
  hs__tcache_prefork();
}

void hs__alloc_postfork_parent(void) {
  hs__tcache_postfork_parent();
  hs__unlock(&hs__pageheap_lock);
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__unlock(&hs__icentral[c].lock);
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__unlock(&hs__central[c].lock);
}

void hs__alloc_postfork_child(void) {
  hs__tcache_postfork_child();
  hs__lock_reset(&hs__pageheap_lock);
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__lock_reset(&hs__icentral[c].lock);
  for (uint32_t c = 1; c < hs__num_classes; c++) hs__lock_reset(&hs__central[c].lock);
}

void hs__alloc_lock_spans(void) { hs__lock(&hs__pageheap_lock); }
void hs__alloc_unlock_spans(void) { hs__unlock(&hs__pageheap_lock); }
