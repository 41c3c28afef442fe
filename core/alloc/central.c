/* Central free lists: one per size class and heap (user, internal). Each
 * holds the spans of its class that still have free objects; objects move
 * to and from thread caches in batches, so this lock is taken once per
 * batch, not per malloc.
 *
 * SYNCHRONIZATION: c->lock guards the list and, for every span of the class,
 * freelist/carve/allocated/in_list. Lock order: central -> page heap. Spans
 * that become empty are handed back to the page heap after the central lock
 * is dropped. */
#include "core/alloc/alloc.h"

hs_central_t hs__central[HS_NUM_CLASSES];
hs_central_t hs__icentral[HS_NUM_CLASSES];

/* A span of the list: of the class, listed iff it has a free object, and
 * allocated + free-list length + uncarved objects = objects (expensive:
 * walks the free list). Caller holds c->lock. */
static bool span_is_valid(const hs_span_t *s, uint32_t cls, uint8_t kind) {
  const hs_class_info_t *ci = &hs__classes[cls];
  if (s->sizeclass != cls || s->kind != kind || s->allocated > ci->objects) return false;
  uintptr_t end = s->start + (uintptr_t)ci->objects * ci->size;
  if (s->carve < s->start || s->carve > end || (s->carve - s->start) % ci->size) return false;
  size_t free_objs = 0;
  for (void *q = s->freelist; q; q = *(void **)q) {
    if ((uintptr_t)q < s->start || (uintptr_t)q >= s->carve) return false;
    if (++free_objs > ci->objects) return false; /* a cycle */
  }
  size_t uncarved = (end - s->carve) / ci->size;
  if (s->allocated + free_objs + uncarved != ci->objects) return false;
  if (kind == HS_SPAN_SMALL) {
    uint64_t v = hs__pagemap_info(s->start);
    if ((HS_INFO_CLASS(v) & ~HS_CLASS_RECORDED) != cls || HS_INFO_SPAN_OFFSET(v, s->start) != 0)
      return false;
  }
  return true;
}

static void ensure_list(hs_central_t *c) {
  if (!c->nonempty.next) c->nonempty.next = c->nonempty.prev = &c->nonempty;
}

static void push_span(hs_central_t *c, hs_span_t *s) {
  s->next = c->nonempty.next;
  s->prev = &c->nonempty;
  c->nonempty.next->prev = s;
  c->nonempty.next = s;
  s->in_list = 1;
}

static void unlink_span(hs_span_t *s) {
  s->prev->next = s->next;
  s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->in_list = 0;
}

uint32_t hs__central_fetch(hs_central_t *c, uint32_t cls, uint8_t kind,
                           uint32_t n, void **head, void **tail) {
  const hs_class_info_t *ci = &hs__classes[cls];
  void *chain = NULL, *last = NULL;
  uint32_t got = 0;
  hs__lock(&c->lock);
  ensure_list(c);
  while (got < n) {
    hs_span_t *s = c->nonempty.next;
    if (s == &c->nonempty) {
      s = hs__pageheap_alloc(ci->pages, kind);
      if (!s) break;
      s->sizeclass = (uint8_t)cls;
      s->carve = s->start;
      if (kind == HS_SPAN_SMALL) hs__pagemap_set_class(s->start, s->npages, cls);
      c->span_count++;
      push_span(c, s);
    }
    uintptr_t end = s->start + (uintptr_t)ci->objects * ci->size;
    /* An empty internal span kept resident (see release) is in use again.
     * (Fresh and released spans have nothing to hand out but carving.) */
    if (s->allocated == 0 && (s->freelist || s->carve != s->start) && kind != HS_SPAN_SMALL)
      c->idle--;
    while (got < n) {
      void *obj;
      if (s->freelist) {
        obj = s->freelist;
        s->freelist = *(void **)obj;
      } else if (s->carve < end) {
        obj = (void *)s->carve;
        s->carve += ci->size;
      } else {
        break;
      }
      s->allocated++;
      *(void **)obj = chain;
      /* Free blocks on their way to a thread cache carry the free key, as
       * those freed there do (same cache line as the link). */
      ((uintptr_t *)obj)[HS_KEY_WORD] = hs__free_key;
      if (!chain) last = obj;
      chain = obj;
      got++;
    }
    hs_assert_expensive(span_is_valid(s, cls, kind));
    if (!s->freelist && s->carve >= end) unlink_span(s);
  }
  hs__unlock(&c->lock);
  *head = chain;
  if (tail) *tail = last;
  return got;
}

void hs__central_release(hs_central_t *c, uint32_t cls, void *head) {
  hs_span_t *empty = NULL;
  hs__lock(&c->lock);
  ensure_list(c);
  while (head) {
    void *next = *(void **)head;
    hs_span_t *s = hs__pagemap_get((uintptr_t)head);
    hs_assert(s->kind == HS_SPAN_SMALL || s->kind == HS_SPAN_INTERNAL);
    hs_assert(s->sizeclass == cls && s->allocated > 0 && (uintptr_t)head < s->carve);
    *(void **)head = s->freelist;
    s->freelist = head;
    s->allocated--;
    /* Internal spans stay with the internal heap: if their pages went back
     * to the page heap, a dangling pointer the program keeps to a freed
     * runtime object (a freed heapscope_leaks_t) could point into a user
     * block carved there later and hide that block's leak. */
    if (s->allocated == 0 && s->kind != HS_SPAN_INTERNAL) {
      hs_assert_expensive(span_is_valid(s, cls, s->kind)); /* all its blocks back */
      if (s->in_list) unlink_span(s);
      c->span_count--;
      s->next = empty;
      empty = s;
    } else if (s->allocated == 0 && c->idle == 0) {
      /* The class's first empty internal span stays resident: a runtime
       * object made and freed over and over (a thread's records array,
       * pthread_getattr_np's buffer at every thread start) would otherwise
       * cost an madvise and a TLB shootdown each time (thread creation under
       * HEAPCHECK ran 7x slower). */
      c->idle++;
      if (!s->in_list) push_span(c, s);
    } else if (s->allocated == 0) {
      /* Further empty internal spans: give their pages' memory back but keep
       * the addresses (and start carving afresh, since the free list lived
       * in the released pages). */
      hs__os_release((void *)s->start, s->npages << HS_PAGE_SHIFT);
      s->freelist = NULL;
      s->carve = s->start;
      if (!s->in_list) push_span(c, s);
    } else if (!s->in_list) {
      push_span(c, s); /* checked on this transition only: a walk per free was quadratic */
      hs_assert_expensive(span_is_valid(s, cls, s->kind));
    }
    head = next;
  }
  hs__unlock(&c->lock);
  while (empty) {
    hs_span_t *next = empty->next;
    if (empty->kind == HS_SPAN_SMALL) hs__pagemap_set_class(empty->start, empty->npages, 0);
    hs_rec_t *recs = atomic_exchange(&empty->records, NULL);
    if (recs) hs__arena_free(recs);
    hs__pageheap_free(empty);
    empty = next;
  }
}

size_t hs__central_free_bytes(hs_central_t *c, uint32_t cls) {
  const hs_class_info_t *ci = &hs__classes[cls];
  size_t free_objs = 0;
  hs__lock(&c->lock);
  ensure_list(c);
  for (hs_span_t *s = c->nonempty.next; s != &c->nonempty; s = s->next)
    free_objs += ci->objects - s->allocated;
  hs__unlock(&c->lock);
  return free_objs * ci->size;
}
