/* The internal heap: the runtime's own memory (stack depot, records, symbol
 * tables, report text) and anything libdw/libunwind allocate while a thread
 * is inside the runtime. It shares the page heap and size classes with the
 * user heap but has its own central lists and no thread caches, and its
 * spans are marked INTERNAL so they are never recorded, profiled or scanned.
 * free() routes by span kind, so memory libdw allocated here may be freed by
 * anyone. */
#include "core/alloc/alloc.h"

#include <stdarg.h>
#include <string.h>

void *hs__arena_alloc(size_t n) {
  hs__alloc_init();
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

bool hs__arena_owns(const void *p) {
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  return s && (s->kind == HS_SPAN_INTERNAL || s->kind == HS_SPAN_INTERNAL_LARGE);
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

/* ---- a growable text buffer on the internal heap ---- */
void hs__sb_append(hs_strbuf_t *sb, const char *s, size_t n) {
  if (sb->oom) return;
  if (sb->len + n + 1 > sb->cap) {
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1) cap *= 2;
    char *d = hs__arena_realloc(sb->data, cap);
    if (!d) { sb->oom = true; return; }
    sb->data = d;
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void hs__sb_printf(hs_strbuf_t *sb, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = hs__vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < (int)sizeof small) {
    hs__sb_append(sb, small, (size_t)n);
    return;
  }
  char *big = hs__arena_alloc((size_t)n + 1);
  if (!big) { sb->oom = true; return; }
  va_start(ap, fmt);
  hs__vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  hs__sb_append(sb, big, (size_t)n);
  hs__arena_free(big);
}

void hs__sb_free(hs_strbuf_t *sb) {
  hs__arena_free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}
