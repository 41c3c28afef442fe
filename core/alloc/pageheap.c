/* Page heap: runs of 8 KiB pages ("spans") carved from large OS mappings.
 *
 * SYNCHRONIZATION: one lock, hs__pageheap_lock, guards every field below and
 * the kind/npages/start/list fields of every span. Lock order: central list
 * lock -> page heap lock. Nothing here calls malloc; span structs come from
 * a private slab that is never returned (so a stale page-map entry always
 * points at some span struct; readers check the range).
 *
 * Free spans are coalesced with free neighbours (found through the page map,
 * which maps the first and last page of free spans and every page of spans
 * in use). Free pages are given back to the OS with MADV_DONTNEED when more
 * than `retain` bytes sit free and mapped, releasing down to half of that:
 * the release work is bounded by the bytes freed in between (hysteresis),
 * so a free/malloc ping-pong never turns into an madvise per call. */
#include "core/alloc/alloc.h"

#include <string.h>

#define MAX_LISTED_PAGES 128   /* spans up to this size have exact lists */
#define GROW_PAGES 256         /* 2 MiB minimum growth */
/* Free pages kept mapped before releasing: at least this, or in-use/4
 * (in-use/8 refaulted too much in bench/frag: 0.27 s -> 0.25 s at /4, peak
 * RSS 359 -> 368 MiB, still under glibc's 411).
 * 8 MiB made a realloc-heavy loop madvise and refault constantly (bench/
 * realloc: 2.3x glibc); 32 MiB brought it to 0.8x. */
#define RETAIN_MIN HS_RETAIN_MIN
#define HUGE_RELEASE ((size_t)16 << 20) /* freed spans this big go back at once */

hs_lock_t hs__pageheap_lock;

static hs_span_t free_lists[MAX_LISTED_PAGES + 1]; /* [0]: larger spans */
static bool lists_ready;
static hs_span_t *spare_structs;
static hs_span_t *slab_next, *slab_end;
static hs_span_t *registry;
static hs_heap_stats_t stats;

hs_span_t *hs__span_registry(void) {
  return __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
}

static void lists_init(void) {
  for (int i = 0; i <= MAX_LISTED_PAGES; i++)
    free_lists[i].next = free_lists[i].prev = &free_lists[i];
  lists_ready = true;
}

static hs_span_t *new_struct(void) {
  hs_span_t *s = spare_structs;
  if (s) {
    spare_structs = s->next;
  } else {
    if (slab_next == slab_end) {
      size_t bytes = 64 << 10;
      slab_next = hs__os_map(bytes);
      if (!slab_next) return NULL;
      slab_end = slab_next + bytes / sizeof(hs_span_t);
      stats.metadata_bytes += bytes;
    }
    s = slab_next++;
    s->all_next = registry;
    __atomic_store_n(&registry, s, __ATOMIC_RELEASE);
  }
  hs_span_t *keep = s->all_next;
  memset(s, 0, sizeof *s);
  s->all_next = keep;
  return s;
}

static void drop_struct(hs_span_t *s) {
  s->npages = 0;
  s->kind = HS_SPAN_FREE;
  s->next = spare_structs;
  spare_structs = s;
}

static hs_span_t *list_for(size_t npages) {
  return &free_lists[npages <= MAX_LISTED_PAGES ? npages : 0];
}

static void list_remove(hs_span_t *s) {
  s->prev->next = s->next;
  s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static void list_push(hs_span_t *head, hs_span_t *s) {
  s->next = head->next;
  s->prev = head;
  head->next->prev = s;
  head->next = s;
}

static size_t span_bytes(const hs_span_t *s) { return s->npages << HS_PAGE_SHIFT; }

static void release_span(hs_span_t *s) {
  if (s->released) return;
  hs__os_release((void *)s->start, span_bytes(s));
  s->released = 1;
  stats.free_bytes -= span_bytes(s);
  stats.unmapped_bytes += span_bytes(s);
}

/* Insert a FREE span, mapping its end pages so neighbours can find it. */
static void insert_free(hs_span_t *s) {
  s->kind = HS_SPAN_FREE;
  hs__pagemap_set_range(s->start, 1, s);
  if (s->npages > 1)
    hs__pagemap_set_range(s->start + span_bytes(s) - HS_PAGE_SIZE, 1, s);
  list_push(list_for(s->npages), s);
  if (s->released) stats.unmapped_bytes += span_bytes(s);
  else stats.free_bytes += span_bytes(s);
}

static void remove_free(hs_span_t *s) {
  list_remove(s);
  if (s->released) stats.unmapped_bytes -= span_bytes(s);
  else stats.free_bytes -= span_bytes(s);
}

static hs_span_t *free_neighbour(uintptr_t addr) {
  hs_span_t *n = hs__pagemap_get(addr);
  if (!n || n->kind != HS_SPAN_FREE || n->npages == 0) return NULL;
  if (addr < n->start || addr >= n->start + span_bytes(n)) return NULL;
  return n;
}

/* Merge two adjacent free spans' states: a mixed pair is released whole, so
 * the accounting of mapped versus unmapped pages stays exact. */
static void absorb(hs_span_t *s, hs_span_t *n) {
  remove_free(n);
  if (s->released != n->released) {
    hs_span_t *mapped = s->released ? n : s;
    hs__os_release((void *)mapped->start, span_bytes(mapped));
    s->released = 1;
  }
  if (n->start < s->start) s->start = n->start;
  s->npages += n->npages;
  drop_struct(n);
}

/* MallocExtension's release rate (1000 = 1.0) and aggressive decommit. */
static _Atomic uint32_t release_milli = 1000;
static _Atomic bool aggressive_decommit;
static _Atomic size_t heap_limit;

void hs__alloc_set_release_rate_milli(uint32_t milli) { atomic_store(&release_milli, milli); }
uint32_t hs__alloc_release_rate_milli(void) { return atomic_load(&release_milli); }
void hs__alloc_set_aggressive_decommit(bool on) { atomic_store(&aggressive_decommit, on); }
bool hs__alloc_aggressive_decommit(void) { return atomic_load(&aggressive_decommit); }
void hs__alloc_set_heap_limit(size_t bytes) { atomic_store(&heap_limit, bytes); }
size_t hs__alloc_heap_limit(void) { return atomic_load(&heap_limit); }

static void release_excess(void) {
  uint32_t rate = atomic_load_explicit(&release_milli, memory_order_relaxed);
  bool aggressive = atomic_load_explicit(&aggressive_decommit, memory_order_relaxed);
  if (rate == 0 && !aggressive) return;
  size_t in_use = stats.large_bytes + stats.small_span_bytes + stats.internal_bytes;
  size_t retain = in_use / 4 > RETAIN_MIN ? in_use / 4 : RETAIN_MIN;
  if (aggressive) retain = 0;
  else if (rate != 1000) retain = (size_t)((double)retain * 1000.0 / rate);
  if (stats.free_bytes <= retain) return;
  /* Largest spans first: fewest syscalls for the most bytes. */
  for (int i = 0; i <= MAX_LISTED_PAGES && stats.free_bytes > retain / 2; i++) {
    hs_span_t *head = &free_lists[i];
    for (hs_span_t *s = head->next; s != head && stats.free_bytes > retain / 2;
         s = s->next)
      release_span(s);
  }
}

static bool grow(size_t npages) {
  size_t pages = npages < GROW_PAGES ? GROW_PAGES : npages;
  size_t limit = atomic_load_explicit(&heap_limit, memory_order_relaxed);
  if (limit && stats.heap_bytes + (pages << HS_PAGE_SHIFT) > limit) {
    if (stats.heap_bytes + (npages << HS_PAGE_SHIFT) > limit) return false;
    pages = npages; /* the minimum still fits under the limit */
  }
  void *mem = hs__os_map_aligned(pages << HS_PAGE_SHIFT, HS_PAGE_SIZE);
  if (!mem) return false;
  hs_span_t *s = new_struct();
  if (!s) {
    hs__os_unmap(mem, pages << HS_PAGE_SHIFT);
    return false;
  }
  s->start = (uintptr_t)mem;
  s->npages = pages;
  stats.heap_bytes += pages << HS_PAGE_SHIFT;
  hs_span_t *prev = free_neighbour(s->start - 1);
  if (prev) absorb(s, prev);
  hs_span_t *next = free_neighbour(s->start + span_bytes(s));
  if (next) absorb(s, next);
  insert_free(s);
  return true;
}

static hs_span_t *find_fit(size_t npages) {
  for (size_t i = npages; i <= MAX_LISTED_PAGES; i++)
    if (free_lists[i].next != &free_lists[i]) return free_lists[i].next;
  hs_span_t *best = NULL, *head = &free_lists[0];
  for (hs_span_t *s = head->next; s != head; s = s->next)
    if (s->npages >= npages && (!best || s->npages < best->npages ||
                                (s->npages == best->npages && s->start < best->start)))
      best = s;
  return best;
}

hs_span_t *hs__pageheap_alloc_locked(size_t npages, uint8_t kind) {
  if (!lists_ready) lists_init();
  if (npages == 0 || npages > ((size_t)1 << 35)) return NULL;
  hs_span_t *s = find_fit(npages);
  if (!s) {
    if (!grow(npages)) return NULL;
    s = find_fit(npages);
    if (!s) return NULL;
  }
  remove_free(s);
  if (s->npages > npages) {
    hs_span_t *rest = new_struct();
    if (rest) {
      rest->start = s->start + (npages << HS_PAGE_SHIFT);
      rest->npages = s->npages - npages;
      rest->released = s->released;
      s->npages = npages;
      insert_free(rest);
    }
  }
  if (!hs__pagemap_set_range(s->start, s->npages, s)) {
    insert_free(s);
    return NULL;
  }
  s->released = 0;
  s->kind = kind;
  s->freelist = NULL;
  s->allocated = 0;
  s->in_list = 0;
  s->max_gen = 0;
  atomic_store_explicit(&s->rec_live, 0, memory_order_relaxed);
  s->large_size = 0;
  memset(&s->large_rec, 0, sizeof s->large_rec);
  atomic_store_explicit(&s->records, NULL, memory_order_relaxed);
  size_t b = span_bytes(s);
  if (kind == HS_SPAN_LARGE) stats.large_bytes += b;
  else if (kind == HS_SPAN_SMALL) stats.small_span_bytes += b;
  else stats.internal_bytes += b;
  return s;
}

void hs__pageheap_free_locked(hs_span_t *s) {
  size_t b = span_bytes(s);
  if (s->kind == HS_SPAN_LARGE) stats.large_bytes -= b;
  else if (s->kind == HS_SPAN_SMALL) stats.small_span_bytes -= b;
  else stats.internal_bytes -= b;
  s->kind = HS_SPAN_FREE;
  s->released = 0;
  hs_span_t *prev = free_neighbour(s->start - 1);
  if (prev) absorb(s, prev);
  hs_span_t *next = free_neighbour(s->start + span_bytes(s));
  if (next) absorb(s, next);
  insert_free(s);
  if (span_bytes(s) >= HUGE_RELEASE && atomic_load_explicit(&release_milli, memory_order_relaxed))
    release_span(s);
  release_excess();
}

/* Grow an in-use span in place to npages by taking the free span right
 * after it (realloc of a large block without copying). */
bool hs__pageheap_try_grow(hs_span_t *s, size_t npages) {
  bool ok = false;
  hs__lock(&hs__pageheap_lock);
  size_t extra = npages > s->npages ? npages - s->npages : 0;
  hs_span_t *next = extra ? free_neighbour(s->start + span_bytes(s)) : NULL;
  if (next && next->start == s->start + span_bytes(s) && next->npages >= extra) {
    remove_free(next);
    if (next->npages > extra) {
      hs_span_t *rest = new_struct();
      if (!rest) {
        insert_free(next);
        goto out;
      }
      rest->start = next->start + (extra << HS_PAGE_SHIFT);
      rest->npages = next->npages - extra;
      rest->released = next->released;
      insert_free(rest);
    }
    uintptr_t added = next->start;
    drop_struct(next);
    if (!hs__pagemap_set_range(added, extra, s)) goto out; /* leaf OOM: pages stay unused */
    s->npages += extra;
    size_t b = extra << HS_PAGE_SHIFT;
    if (s->kind == HS_SPAN_LARGE) stats.large_bytes += b;
    else stats.internal_bytes += b;
    ok = true;
  }
out:
  hs__unlock(&hs__pageheap_lock);
  return ok;
}

hs_span_t *hs__pageheap_alloc(size_t npages, uint8_t kind) {
  hs__lock(&hs__pageheap_lock);
  hs_span_t *s = hs__pageheap_alloc_locked(npages, kind);
  hs__unlock(&hs__pageheap_lock);
  return s;
}

void hs__pageheap_free(hs_span_t *s) {
  hs__lock(&hs__pageheap_lock);
  hs__pageheap_free_locked(s);
  hs__unlock(&hs__pageheap_lock);
}

void hs__pageheap_release_all(void) {
  hs__lock(&hs__pageheap_lock);
  if (!lists_ready) lists_init();
  for (int i = 0; i <= MAX_LISTED_PAGES; i++) {
    hs_span_t *head = &free_lists[i];
    for (hs_span_t *s = head->next; s != head; s = s->next) release_span(s);
  }
  hs__unlock(&hs__pageheap_lock);
}

void hs__pageheap_stats(hs_heap_stats_t *out) {
  hs__lock(&hs__pageheap_lock);
  *out = stats;
  out->metadata_bytes += hs__pagemap_bytes;
  hs__unlock(&hs__pageheap_lock);
}
