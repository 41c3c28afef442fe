/* Page heap: runs of 8 KiB pages ("spans") carved from large OS mappings,
 * and the big blocks that own their mapping.
 *
 * SYNCHRONIZATION: one lock, hs__pageheap_lock, guards every field below and
 * the kind/npages/start/list fields of every span. Lock order: central list
 * lock -> page heap lock. Nothing here calls malloc; span structs come from
 * a private slab that is never returned (so a stale page-map entry always
 * points at some span struct; readers check the range).
 *
 * Free spans are coalesced with free neighbours (found through the page map,
 * which maps the first and last page of free spans and every page of spans
 * in use).
 *
 * Decay (as jemalloc's decay and mimalloc's delayed purge): a freed span
 * keeps its pages. Every free span whose pages may be resident ("dirty")
 * and every cached own mapping sits on one list in the order it was freed.
 * Memory that stays unused for HS_DECAY_NS goes back to the OS (MADV_DONTNEED
 * for spans, munmap for cached mappings), oldest first, checked on the page
 * heap's operations and on thread-cache refills (hs__pageheap_decay_tick).
 * So a steady state of allocations and frees of similar sizes reuses dirty
 * pages and never calls madvise. Only when dirty memory exceeds a cap,
 * max(HS_RETAIN_MIN, 2 x in-use), is the oldest released early, down to
 * half the cap (hysteresis): a safety bound on peak RSS, reached when a
 * program frees most of its heap (bench/alloc/mixed: a cap of in-use/4 or
 * in-use/2 released and refaulted 2-3 GB of pages in a 300,000-operation
 * run, 20x the time; the page heap's holes there are about in-use/2).
 *
 * Blocks of HS_MAP_MIN bytes or more own their mapping: realloc resizes it
 * with mremap, which moves page-table entries instead of copying bytes, and
 * reserves headroom so a block grown step by step moves rarely. A freed own
 * mapping is cached (on the decay list) and reused, resized, by the next big
 * allocation, so a loop that allocates and frees big blocks maps nothing.
 *
 * gperftools' knobs (MallocExtension, TCMALLOC_*): the release rate scales
 * the decay time and the cap (0: nothing goes back on its own), aggressive
 * decommit releases every free page at once, a heap limit stops growth.
 *
 * Invariants (hs__pageheap_is_valid):
 *   heap_bytes = free + unmapped + large + small_span + internal
 *   free_bytes = sum of dirty FREE spans + CACHED mappings = decay list bytes
 *   unmapped_bytes = sum of released FREE spans
 *   every FREE span is on the free list for its size, its first and last
 *   pages map to it, and no free neighbour touches it (coalesced). */
#include "core/alloc/alloc.h"
#include "core/alloc/internal.h"

#include <string.h>

#define MAX_LISTED_PAGES 128   /* spans up to this size have exact lists */
#define GROW_PAGES 256         /* 2 MiB minimum growth */
#define RETAIN_MIN HS_RETAIN_MIN /* dirty pages always allowed */
#define CACHED_MAX 64          /* own mappings kept for reuse, at most */


hs_lock_t hs__pageheap_lock;

static hs_span_t free_lists[MAX_LISTED_PAGES + 1]; /* [0]: larger spans */
static hs_span_t lru;          /* decay list sentinel: oldest at lru.lru_next */
static bool lists_ready;
static hs_span_t *spare_structs;
static hs_span_t *slab_next, *slab_end;
static hs_span_t *registry;
static hs_heap_stats_t stats;
static size_t cached_count;
static _Atomic uint64_t next_decay_ns; /* earliest time anything is due */

hs_span_t *hs__span_registry(void) {
  return __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
}

static void lists_init(void) {
  for (int i = 0; i <= MAX_LISTED_PAGES; i++)
    free_lists[i].next = free_lists[i].prev = &free_lists[i];
  lru.lru_next = lru.lru_prev = &lru;
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
  s->mapped = 0;
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

/* ---- the decay list ------------------------------------------------------ */

static void lru_append(hs_span_t *s, uint64_t when) {
  s->free_ns = when;
  s->lru_prev = lru.lru_prev;
  s->lru_next = &lru;
  lru.lru_prev->lru_next = s;
  lru.lru_prev = s;
  uint64_t due = when + HS_DECAY_NS;
  if (lru.lru_next == s || due < atomic_load_explicit(&next_decay_ns, memory_order_relaxed))
    atomic_store_explicit(&next_decay_ns, due, memory_order_relaxed);
}

static void lru_remove(hs_span_t *s) {
  if (!s->lru_next) return;
  s->lru_prev->lru_next = s->lru_next;
  s->lru_next->lru_prev = s->lru_prev;
  s->lru_next = s->lru_prev = NULL;
}

static void release_span(hs_span_t *s) {
  if (!s->dirty) return;
  lru_remove(s);
  hs__os_release((void *)s->start, span_bytes(s));
  stats.free_bytes -= s->dirty << HS_PAGE_SHIFT;
  stats.unmapped_bytes += s->dirty << HS_PAGE_SHIFT;
  s->dirty = 0;
}

/* Insert a FREE span, mapping its end pages so neighbours can find it.
 * A dirty span joins the decay list as freed at `when`. */
static void insert_free(hs_span_t *s, uint64_t when) {
  s->kind = HS_SPAN_FREE;
  hs__pagemap_set_range(s->start, 1, s);
  if (s->npages > 1)
    hs__pagemap_set_range(s->start + span_bytes(s) - HS_PAGE_SIZE, 1, s);
  list_push(list_for(s->npages), s);
  stats.free_bytes += s->dirty << HS_PAGE_SHIFT;
  stats.unmapped_bytes += (s->npages - s->dirty) << HS_PAGE_SHIFT;
  if (s->dirty) lru_append(s, when);
}

static void remove_free(hs_span_t *s) {
  list_remove(s);
  lru_remove(s);
  stats.free_bytes -= s->dirty << HS_PAGE_SHIFT;
  stats.unmapped_bytes -= (s->npages - s->dirty) << HS_PAGE_SHIFT;
}

/* Carve the first npages off free span s (already removed from the lists);
 * the rest goes back free, with its share of the dirty pages (where they
 * lie is not tracked: an estimate that a release makes exact again). */
static bool split_free(hs_span_t *s, size_t npages, uint64_t when) {
  if (s->npages == npages) return true;
  hs_span_t *rest = new_struct();
  if (!rest) return false;
  rest->start = s->start + (npages << HS_PAGE_SHIFT);
  rest->npages = s->npages - npages;
  rest->dirty = (size_t)((unsigned __int128)s->dirty * rest->npages / s->npages);
  s->dirty -= rest->dirty;
  s->npages = npages;
  insert_free(rest, when);
  return true;
}

static hs_span_t *free_neighbour(uintptr_t addr) {
  hs_span_t *n = hs__pagemap_get(addr);
  if (!n || n->kind != HS_SPAN_FREE || n->npages == 0) return NULL;
  if (addr < n->start || addr >= n->start + span_bytes(n)) return NULL;
  return n;
}

/* Merge a free neighbour into s (not yet inserted). No madvise on this
 * path: freeing next to released pages costs no system call. */
static void absorb(hs_span_t *s, hs_span_t *n) {
  remove_free(n);
  s->dirty += n->dirty;
  if (n->start < s->start) s->start = n->start;
  s->npages += n->npages;
  drop_struct(n);
}

/* MallocExtension's release rate (1000 = 1.0), aggressive decommit and
 * heap limit (TCMALLOC_HEAP_LIMIT_MB). */
static _Atomic uint32_t release_milli = 1000;
static _Atomic bool aggressive_decommit;
static _Atomic size_t heap_limit;

void hs__alloc_set_release_rate_milli(uint32_t milli) { atomic_store(&release_milli, milli); }
uint32_t hs__alloc_release_rate_milli(void) { return atomic_load(&release_milli); }
void hs__alloc_set_aggressive_decommit(bool on) { atomic_store(&aggressive_decommit, on); }
bool hs__alloc_aggressive_decommit(void) { return atomic_load(&aggressive_decommit); }
void hs__alloc_set_heap_limit(size_t bytes) { atomic_store(&heap_limit, bytes); }
size_t hs__alloc_heap_limit(void) { return atomic_load(&heap_limit); }

/* Whether mapping `more` bytes would take the heap past the limit. */
static bool over_limit(size_t more) {
  size_t limit = atomic_load_explicit(&heap_limit, memory_order_relaxed);
  return limit && stats.heap_bytes + more > limit;
}

/* ---- own mappings ---------------------------------------------------------- */

static void unmap_cached(hs_span_t *s) {
  lru_remove(s);
  hs__pagemap_set_range(s->start, s->npages, NULL);
  hs__os_unmap((void *)s->start, span_bytes(s));
  stats.free_bytes -= span_bytes(s);
  stats.heap_bytes -= span_bytes(s);
  cached_count--;
  drop_struct(s);
}

/* Give back the oldest decay-list entry. */
static void release_oldest(void) {
  hs_span_t *s = lru.lru_next;
  if (s->kind == HS_SPAN_CACHED) unmap_cached(s);
  else release_span(s);
}

static size_t in_use_bytes(void) {
  return stats.large_bytes + stats.small_span_bytes + stats.internal_bytes;
}

/* Release what has decayed, and the oldest beyond the cap. */
static void decay_locked(uint64_t now) {
  if (!lists_ready) return;
  uint32_t rate = atomic_load_explicit(&release_milli, memory_order_relaxed);
  bool aggressive = atomic_load_explicit(&aggressive_decommit, memory_order_relaxed);
  uint64_t decay = HS_DECAY_NS;
  size_t cap = 2 * in_use_bytes() > RETAIN_MIN ? 2 * in_use_bytes() : RETAIN_MIN;
  if (aggressive) {
    decay = 0;
    cap = 0;
  } else if (rate == 0) {
    decay = UINT64_MAX; /* nothing goes back on its own */
    cap = SIZE_MAX;
  } else if (rate != 1000) {
    decay = (uint64_t)((double)decay * 1000.0 / rate);
    cap = (size_t)((double)cap * 1000.0 / rate);
  }
  while (lru.lru_next != &lru && now - lru.lru_next->free_ns >= decay) release_oldest();
  if (stats.free_bytes > cap)
    while (lru.lru_next != &lru && stats.free_bytes > cap / 2) release_oldest();
  uint64_t due = lru.lru_next != &lru && decay != UINT64_MAX ? lru.lru_next->free_ns + decay
                                                              : UINT64_MAX;
  /* Stored only when it moves: threads read it on every tick. */
  if (atomic_load_explicit(&next_decay_ns, memory_order_relaxed) != due)
    atomic_store_explicit(&next_decay_ns, due, memory_order_relaxed);
}

void hs__pageheap_decay_tick(void) {
  static HS_TLS uint32_t ticks; /* a look at the clock every 64th tick */
  if (HS_LIKELY(++ticks & 63)) return;
  uint64_t due = atomic_load_explicit(&next_decay_ns, memory_order_relaxed);
  if (HS_LIKELY(due == 0 || due == UINT64_MAX)) return;
  uint64_t now = hs__now_coarse_ns();
  if (now < due || !hs__trylock(&hs__pageheap_lock)) return;
  decay_locked(now);
  hs__unlock(&hs__pageheap_lock);
}

/* The cached mapping that best serves npages: the smallest at least as big,
 * else the biggest smaller one (grown by remapping, its pages reused). */
static hs_span_t *cached_fit(size_t npages) {
  hs_span_t *fit = NULL, *under = NULL;
  for (hs_span_t *s = lru.lru_prev; s != &lru; s = s->lru_prev) {
    if (s->kind != HS_SPAN_CACHED) continue;
    if (s->npages >= npages) {
      if (!fit || s->npages < fit->npages) fit = s;
    } else if (!under || s->npages > under->npages) {
      under = s;
    }
  }
  return fit ? fit : under;
}

/* Resize s (own mapping, page heap lock held) to npages; updates the page
 * map. Under the lock so a stopped-world scan never sees a moved span. */
static bool remap_locked(hs_span_t *s, size_t npages) {
  if (npages == s->npages) return true;
  void *p = hs__os_remap((void *)s->start, span_bytes(s), npages << HS_PAGE_SHIFT, true,
                         HS_PAGE_SIZE);
  if (!p) return false;
  if ((uintptr_t)p != s->start || npages < s->npages) {
    /* Clear what no longer belongs to s: all of it after a move, the tail
     * after shrinking in place. */
    uintptr_t from = (uintptr_t)p == s->start ? s->start + (npages << HS_PAGE_SHIFT) : s->start;
    size_t n = (uintptr_t)p == s->start ? s->npages - npages : s->npages;
    hs__pagemap_set_range(from, n, NULL);
  }
  if (!hs__pagemap_set_range((uintptr_t)p, npages, s)) {
    /* No page-map leaf: give the memory back rather than lose track. */
    hs__pagemap_set_range((uintptr_t)p, npages, NULL);
    hs__os_unmap(p, npages << HS_PAGE_SHIFT);
    stats.heap_bytes -= span_bytes(s);
    if (s->kind == HS_SPAN_LARGE) stats.large_bytes -= span_bytes(s);
    s->npages = 0;
    return false;
  }
  size_t old = span_bytes(s);
  s->start = (uintptr_t)p;
  s->npages = npages;
  stats.heap_bytes = stats.heap_bytes - old + span_bytes(s);
  if (s->kind == HS_SPAN_LARGE) stats.large_bytes = stats.large_bytes - old + span_bytes(s);
  return true;
}

static void reset_in_use(hs_span_t *s, uint8_t kind);

hs_span_t *hs__pageheap_alloc_mapped(size_t npages) {
  if (npages == 0 || npages > ((size_t)1 << 35)) return NULL;
  hs__lock(&hs__pageheap_lock);
  if (!lists_ready) lists_init();
  hs_span_t *s = cached_fit(npages);
  if (s) {
    lru_remove(s);
    cached_count--;
    stats.free_bytes -= span_bytes(s);
    stats.large_bytes += span_bytes(s);
    s->kind = HS_SPAN_LARGE;
    /* Shrink only what wastes more than a quarter: a little slack spares
     * the next, slightly bigger reuse a system call. */
    if (s->npages < npages || s->npages - npages > npages / 4) {
      if (!remap_locked(s, npages)) {
        if (s->npages) { /* mapping unchanged: keep it cached */
          stats.large_bytes -= span_bytes(s);
          stats.free_bytes += span_bytes(s);
          s->kind = HS_SPAN_CACHED;
          cached_count++;
          lru_append(s, hs__now_coarse_ns());
        } else {
          drop_struct(s);
        }
        s = NULL;
      }
    }
  }
  if (!s) {
    if (over_limit(npages << HS_PAGE_SHIFT)) {
      hs__unlock(&hs__pageheap_lock);
      return NULL;
    }
    hs__unlock(&hs__pageheap_lock);
    void *mem = hs__os_map_aligned(npages << HS_PAGE_SHIFT, HS_PAGE_SIZE);
    if (!mem) return NULL;
    hs__lock(&hs__pageheap_lock);
    s = new_struct();
    if (!s || !hs__pagemap_set_range((uintptr_t)mem, npages, s)) {
      if (s) {
        hs__pagemap_set_range((uintptr_t)mem, npages, NULL);
        drop_struct(s);
      }
      hs__unlock(&hs__pageheap_lock);
      hs__os_unmap(mem, npages << HS_PAGE_SHIFT);
      return NULL;
    }
    s->start = (uintptr_t)mem;
    s->npages = npages;
    s->mapped = 1;
    stats.heap_bytes += span_bytes(s);
    stats.large_bytes += span_bytes(s);
  }
  reset_in_use(s, HS_SPAN_LARGE);
  hs_assert_expensive(hs__pageheap_is_valid());
  hs__unlock(&hs__pageheap_lock);
  return s;
}

/* Grow s by moving its pages to the start of a cached mapping that has room
 * (its pages beyond them are reused dirty: no page faults for the growth). */
static bool grow_into_cached(hs_span_t *s, size_t npages) {
  hs_span_t *c = cached_fit(npages);
  if (!c || c->npages < npages || c->npages > 2 * npages) return false;
  if (!hs__os_move((void *)s->start, span_bytes(s), (void *)c->start)) return false;
  hs__pagemap_set_range(s->start, s->npages, NULL);
  lru_remove(c);
  cached_count--;
  stats.free_bytes -= span_bytes(c);
  stats.heap_bytes -= span_bytes(s);
  stats.large_bytes = stats.large_bytes - span_bytes(s) + span_bytes(c);
  s->start = c->start;
  s->npages = c->npages;
  hs__pagemap_set_range(s->start, s->npages, s); /* the leaves exist: c used them */
  drop_struct(c);
  return true;
}

bool hs__pageheap_remap(hs_span_t *s, size_t npages) {
  if (npages == 0 || npages > ((size_t)1 << 35)) return false;
  hs__lock(&hs__pageheap_lock);
  hs_assert(s->mapped && s->kind == HS_SPAN_LARGE);
  bool ok = (npages > s->npages && grow_into_cached(s, npages)) ||
            ((npages <= s->npages || !over_limit((npages - s->npages) << HS_PAGE_SHIFT)) &&
             remap_locked(s, npages));
  hs_assert_expensive(hs__pageheap_is_valid());
  hs__unlock(&hs__pageheap_lock);
  return ok;
}

static void free_mapped_locked(hs_span_t *s, uint64_t now) {
  stats.large_bytes -= span_bytes(s);
  stats.free_bytes += span_bytes(s);
  s->kind = HS_SPAN_CACHED;
  cached_count++;
  lru_append(s, now);
  if (cached_count > CACHED_MAX) {
    hs_span_t *old = lru.lru_next;
    while (old->kind != HS_SPAN_CACHED) old = old->lru_next;
    unmap_cached(old);
  }
}

/* ---- spans of the heap ------------------------------------------------------ */

static bool grow(size_t npages) {
  size_t pages = npages < GROW_PAGES ? GROW_PAGES : npages;
  if (over_limit(pages << HS_PAGE_SHIFT)) {
    if (over_limit(npages << HS_PAGE_SHIFT)) return false;
    pages = npages; /* the minimum still fits under the limit */
  }
  /* The flat range first (free() finds its pages' classes with one load
   * fewer); its memory is never unmapped, so it is taken only once a span
   * struct is at hand. */
  hs_span_t *s = new_struct();
  if (!s) return false;
  void *mem = hs__pagemap_flat_take(pages << HS_PAGE_SHIFT);
  if (!mem) mem = hs__os_map_aligned(pages << HS_PAGE_SHIFT, HS_PAGE_SIZE);
  if (!mem) {
    drop_struct(s);
    return false;
  }
  s->start = (uintptr_t)mem;
  s->npages = pages;
  s->dirty = 0; /* fresh pages are not resident */
  stats.heap_bytes += pages << HS_PAGE_SHIFT;
  hs_span_t *prev = free_neighbour(s->start - 1);
  if (prev) absorb(s, prev);
  hs_span_t *next = free_neighbour(s->start + span_bytes(s));
  if (next) absorb(s, next);
  insert_free(s, hs__now_coarse_ns());
  return true;
}

/* Best fit; among equal sizes the most recently freed (dirty pages are
 * reused before released ones fault in again). */
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

static void reset_in_use(hs_span_t *s, uint8_t kind) {
  s->dirty = 0;
  s->kind = kind;
  s->freelist = NULL;
  s->allocated = 0;
  s->in_list = 0;
  s->max_gen = 0;
  atomic_store_explicit(&s->rec_live, 0, memory_order_relaxed);
  s->large_size = 0;
  memset(&s->large_rec, 0, sizeof s->large_rec);
  atomic_store_explicit(&s->records, NULL, memory_order_relaxed);
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
  /* The remainder counts as freed now: the decay list stays in time order. */
  uint64_t when = s->npages > npages ? hs__now_coarse_ns() : 0;
  split_free(s, npages, when); /* no struct: the whole span serves */
  if (!hs__pagemap_set_range(s->start, s->npages, s)) {
    insert_free(s, hs__now_coarse_ns());
    return NULL;
  }
  reset_in_use(s, kind);
  size_t b = span_bytes(s);
  if (kind == HS_SPAN_LARGE) stats.large_bytes += b;
  else if (kind == HS_SPAN_SMALL) stats.small_span_bytes += b;
  else stats.internal_bytes += b;
  hs_assert_expensive(hs__pageheap_is_valid());
  return s;
}

void hs__pageheap_free_locked(hs_span_t *s) {
  uint64_t now = hs__now_coarse_ns();
  if (s->mapped) {
    free_mapped_locked(s, now);
  } else {
    size_t b = span_bytes(s);
    if (s->kind == HS_SPAN_LARGE) stats.large_bytes -= b;
    else if (s->kind == HS_SPAN_SMALL) stats.small_span_bytes -= b;
    else stats.internal_bytes -= b;
    s->kind = HS_SPAN_FREE;
    s->dirty = s->npages;
    hs_span_t *prev = free_neighbour(s->start - 1);
    if (prev) absorb(s, prev);
    hs_span_t *next = free_neighbour(s->start + span_bytes(s));
    if (next) absorb(s, next);
    insert_free(s, now);
  }
  decay_locked(now);
  hs_assert_expensive(hs__pageheap_is_valid());
}

/* Grow an in-use span in place to npages by taking the free span right
 * after it (realloc of a large block without copying). */
bool hs__pageheap_try_grow(hs_span_t *s, size_t npages) {
  bool ok = false;
  hs__lock(&hs__pageheap_lock);
  size_t extra = npages > s->npages ? npages - s->npages : 0;
  hs_span_t *next = extra && !s->mapped ? free_neighbour(s->start + span_bytes(s)) : NULL;
  if (next && next->start == s->start + span_bytes(s) && next->npages >= extra) {
    uint64_t when = hs__now_coarse_ns();
    remove_free(next);
    if (!split_free(next, extra, when)) {
      insert_free(next, when);
      goto out;
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
  hs_assert_expensive(hs__pageheap_is_valid());
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
  while (lru.lru_next != &lru) release_oldest();
  atomic_store_explicit(&next_decay_ns, UINT64_MAX, memory_order_relaxed);
  hs__unlock(&hs__pageheap_lock);
}

void hs__pageheap_stats(hs_heap_stats_t *out) {
  hs__lock(&hs__pageheap_lock);
  *out = stats;
  out->metadata_bytes += hs__pagemap_bytes;
  hs__unlock(&hs__pageheap_lock);
}

/* ---- invariants ------------------------------------------------------------- */

bool hs__pageheap_is_valid(void) {
  static unsigned calls;
  if (!lists_ready) return true;
  if (stats.heap_bytes != stats.free_bytes + stats.unmapped_bytes + stats.large_bytes +
                             stats.small_span_bytes + stats.internal_bytes)
    return false;
  if (++calls % 64) return true;
  size_t dirty = 0, released = 0, cached = 0, ncached = 0;
  for (int i = 0; i <= MAX_LISTED_PAGES; i++) {
    hs_span_t *head = &free_lists[i];
    for (hs_span_t *s = head->next; s != head; s = s->next) {
      if (s->kind != HS_SPAN_FREE || !s->npages) return false;
      if (list_for(s->npages) != head) return false;
      if (hs__pagemap_get(s->start) != s) return false;
      if (hs__pagemap_get(s->start + span_bytes(s) - 1) != s) return false;
      if (free_neighbour(s->start - 1) || free_neighbour(s->start + span_bytes(s))) return false;
      if (s->dirty > s->npages || (s->dirty ? s->lru_next == NULL : s->lru_next != NULL))
        return false;
      dirty += s->dirty << HS_PAGE_SHIFT;
      released += (s->npages - s->dirty) << HS_PAGE_SHIFT;
    }
  }
  uint64_t prev_ns = 0;
  for (hs_span_t *s = lru.lru_next; s != &lru; s = s->lru_next) {
    if (s->lru_next->lru_prev != s) return false;
    if (s->free_ns < prev_ns) return false; /* oldest first */
    prev_ns = s->free_ns;
    if (s->kind == HS_SPAN_CACHED) {
      if (!s->mapped || hs__pagemap_get(s->start) != s) return false;
      cached += span_bytes(s);
      ncached++;
    } else if (s->kind != HS_SPAN_FREE || !s->dirty) {
      return false;
    }
  }
  return dirty + cached == stats.free_bytes && released == stats.unmapped_bytes &&
         ncached == cached_count &&
         stats.heap_bytes == stats.free_bytes + stats.unmapped_bytes + stats.large_bytes +
                                 stats.small_span_bytes + stats.internal_bytes;
}
