/* The internal heap: the runtime's own memory (stack depot, records, symbol
 * tables, report text) and anything libdw/libunwind allocate while a thread
 * is inside the runtime. It shares the page heap and size classes with the
 * user heap but has its own central lists and no thread caches, and its
 * spans are marked INTERNAL so they are never recorded, profiled or scanned.
 * free() routes by span kind, so memory libdw allocated here may be freed by
 * anyone. */
#include "internal.h"

#include <string.h>

void *hs__arena_alloc(size_t n) {
  hs__ensure_init();
  if (n == 0) n = 1;
  if (n <= HS_MAX_SMALL) {
    uint32_t cls = hs__size_to_class(n);
    void *p;
    if (!hs__central_fetch(&hs__icentral[cls], cls, HS_SPAN_INTERNAL, 1, &p, NULL))
      return NULL;
    memset(p, 0, hs__classes[cls].size);
    return p;
  }
  size_t pages = (n + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
  hs_span_t *s = hs__pageheap_alloc(pages, HS_SPAN_INTERNAL_LARGE);
  if (!s) return NULL;
  s->large_size = n;
  s->carve = s->start;
  memset((void *)s->start, 0, n);
  return (void *)s->start;
}

void *hs__arena_memalign(size_t align, size_t n) {
  if (align <= HS_MIN_ALIGN) return hs__arena_alloc(n);
  if (align <= HS_PAGE_SIZE && n <= HS_MAX_SMALL) {
    /* A class whose size is a multiple of align has aligned objects. */
    for (uint32_t cls = hs__size_to_class(n ? n : 1); cls < hs__num_classes; cls++)
      if (hs__classes[cls].size % align == 0) return hs__arena_alloc(hs__classes[cls].size);
  }
  size_t pages = (n + align + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
  hs_span_t *s = hs__pageheap_alloc(pages, HS_SPAN_INTERNAL_LARGE);
  if (!s) return NULL;
  uintptr_t p = (s->start + align - 1) & ~(uintptr_t)(align - 1);
  s->large_size = n;
  s->carve = p;
  memset((void *)p, 0, n);
  return (void *)p;
}

size_t hs__arena_usable(void *p) {
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (!s) return 0;
  if (s->kind == HS_SPAN_INTERNAL) return hs__classes[s->sizeclass].size;
  if (s->kind == HS_SPAN_INTERNAL_LARGE)
    return s->start + (s->npages << HS_PAGE_SHIFT) - (uintptr_t)p;
  return 0;
}

void hs__arena_free(void *p) {
  if (!p) return;
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (!s || (uintptr_t)p - s->start >= (s->npages << HS_PAGE_SHIFT))
    hs__invalid_free(p, "not allocated by heapscope");
  if (s->kind == HS_SPAN_INTERNAL) {
    *(void **)p = NULL;
    hs__central_release(&hs__icentral[s->sizeclass], s->sizeclass, p);
  } else if (s->kind == HS_SPAN_INTERNAL_LARGE && (uintptr_t)p == s->carve) {
    hs__pageheap_free(s);
  } else {
    hs__invalid_free(p, "not an internal heap object");
  }
}

void *hs__arena_realloc(void *p, size_t n) {
  if (!p) return hs__arena_alloc(n);
  size_t old = hs__arena_usable(p);
  if (n <= old && n > old / 2) return p;
  void *q = hs__arena_alloc(n);
  if (!q) return NULL;
  memcpy(q, p, old < n ? old : n);
  hs__arena_free(p);
  return q;
}
