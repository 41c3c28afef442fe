/* Page map: page number -> span, a two-level radix tree over the 48-bit user
 * address space. The root lives in .bss (1 MiB of untouched zero pages);
 * leaves are mapped on demand under the page heap lock. Reads are lock-free:
 * the scanner probes arbitrary words with hs__pagemap_get. Page info words
 * (free()'s class lookup) of the page heap's own reserved range live in a
 * flat table instead (see hs_flat_range_t). */
#include "core/alloc/internal.h"

#define PAGE_BITS HS_PM_PAGE_BITS
#define LEAF_BITS HS_PM_LEAF_BITS
#define LEAF_LEN HS_PM_LEAF_LEN
typedef hs_pm_leaf_t leaf_t;
#define root hs__pagemap_root

_Atomic(hs_pm_leaf_t *) hs__pagemap_root[(size_t)1 << HS_PM_ROOT_BITS];
const hs_range_t hs__pagemap_range = {(uintptr_t)hs__pagemap_root,
                                      (uintptr_t)(hs__pagemap_root + (1 << HS_PM_ROOT_BITS))};
size_t hs__pagemap_bytes;

hs_span_t *hs__pagemap_get(uintptr_t a) { return hs__pagemap_span(a); }

/* ---- the flat range ----------------------------------------------------
 * Reserved at the first heap growth: the table (up to HS_FLAT_TABLE_BYTES,
 * read-only zero pages until the heap reaches them, so it costs neither
 * memory nor commit charge) and, right above it, HS_FLAT_BYTES of address
 * space (PROT_NONE) handed out front to back. Not when RLIMIT_AS is set:
 * 64 GiB of reservation would count against it and could starve the
 * program's own mappings (and its unused rest goes back when RLIMIT_AS is
 * set later, at the next growth). */
hs_flat_range_t hs__flat;
/* Its base points at the heap's first block: never a leak-check root. */
const hs_range_t hs__flat_range = {(uintptr_t)&hs__flat, (uintptr_t)(&hs__flat + 1)};
static bool flat_tried;
static uintptr_t flat_used;           /* bytes handed out (an offset: no heap pointer) */
static uintptr_t flat_table_writable; /* table bytes made writable so far */

static bool flat_reserve(void) {
  flat_tried = true;
  if (hs__os_address_space_limited()) return false;
  /* Smaller when refused (valgrind's address-space manager takes at most
   * 32 GiB at once); the table stays where hs__flat_slot expects it. */
  for (size_t bytes = HS_FLAT_BYTES; bytes >= HS_FLAT_BYTES / 16; bytes /= 4) {
    size_t table = HS_FLAT_TABLE_BYTES + HS_FLAT_SKEW;
    size_t total = table + bytes + HS_PAGE_SIZE;
    char *r = hs__os_reserve(total);
    if (!r) continue;
    uintptr_t base = ((uintptr_t)r + table + HS_PAGE_SIZE - 1) & ~(HS_PAGE_SIZE - 1);
    uintptr_t lo = (base - table) & ~(uintptr_t)4095;
    if (!hs__os_protect((void *)lo, (uintptr_t)hs__flat_slot(base, bytes) - lo, false)) {
      hs__os_unmap(r, total);
      return false;
    }
    hs__flat.base = base;
    atomic_store_explicit(&hs__flat.limit, bytes, memory_order_release);
    return true;
  }
  return false;
}

void *hs__pagemap_flat_take(size_t bytes) {
  if (!flat_tried && !flat_reserve()) return NULL;
  uintptr_t base = hs__flat.base;
  uintptr_t limit = atomic_load_explicit(&hs__flat.limit, memory_order_relaxed);
  if (!limit || bytes > limit - flat_used) return NULL;
  if (hs__os_address_space_limited()) {
    /* RLIMIT_AS set since the reservation (a test of out-of-memory paths,
     * say): the unused rest of the range would count against it, so it
     * goes back now and the heap grows anywhere from here on. A reader
     * that still sees the old limit reads 0 past flat_used (never
     * written), as for any foreign address. */
    hs__os_unmap((void *)(base + flat_used), limit - flat_used);
    atomic_store_explicit(&hs__flat.limit, flat_used, memory_order_release);
    return NULL;
  }
  /* The table's pages for the new memory become writable first (a table
   * page covers 512 heap pages: rounded out to whole pages). */
  uintptr_t table = (uintptr_t)hs__flat_slot(base, 0) & ~(uintptr_t)4095;
  uintptr_t need = ((uintptr_t)hs__flat_slot(base, flat_used + bytes) - table + 4095) &
                   ~(uintptr_t)4095;
  if (need > flat_table_writable) {
    if (!hs__os_protect((void *)(table + flat_table_writable), need - flat_table_writable, true))
      return NULL;
    hs__pagemap_bytes += need - flat_table_writable;
    flat_table_writable = need;
  }
  void *p = (void *)(base + flat_used);
  if (!hs__os_map_fixed(p, bytes)) return NULL;
  flat_used += bytes;
  return p;
}

/* Gives back the range's unused rest (core/alloc/rlimit.c: before a finite
 * RLIMIT_AS takes effect). The table stays mapped: a reader that loaded the
 * old limit still reads it, and finds 0 past what was handed out. */
void hs__pagemap_flat_shrink(void) {
  /* Always under the lock: a first growth may be reserving the range now
   * (the limit is stored only once the reservation is made). */
  hs__lock(&hs__pageheap_lock);
  uintptr_t limit = atomic_load_explicit(&hs__flat.limit, memory_order_relaxed);
  if (limit > flat_used) {
    atomic_store_explicit(&hs__flat.limit, flat_used, memory_order_release);
    hs__os_unmap((void *)(hs__flat.base + flat_used), limit - flat_used);
  }
  hs__unlock(&hs__pageheap_lock);
}

/* Where the info word of page `page` lives: the flat table inside the flat
 * range, else its leaf (NULL when it has none). */
static uint64_t *info_slot(uintptr_t page) {
  uintptr_t limit = atomic_load_explicit(&hs__flat.limit, memory_order_acquire);
  uintptr_t off = (page << HS_PAGE_SHIFT) - hs__flat.base;
  if (off < limit) return hs__flat_slot(hs__flat.base, off);
  leaf_t *l = atomic_load_explicit(&root[page >> LEAF_BITS], memory_order_relaxed);
  return l ? &l->info[page & (LEAF_LEN - 1)] : NULL;
}

/* Mark (or unmark) a span's pages as keeping records: free()'s fast path
 * then leaves them to the slow path. */
void hs__pagemap_mark_recorded(uintptr_t start, size_t npages, bool recorded) {
  uintptr_t page = start >> HS_PAGE_SHIFT;
  for (size_t i = 0; i < npages; i++, page++) {
    uint64_t *c = info_slot(page);
    if (!c) continue;
    uint64_t bit = HS_INFO_MAKE(HS_CLASS_RECORDED, 0);
    __atomic_store_n(c, recorded ? *c | bit : *c & ~bit, __ATOMIC_RELEASE);
  }
}

/* The span's pages are already in the map (hs__pagemap_set_range). Called
 * when a span is given to or taken from a size class (cls 0), while no
 * object of it is in anyone's hands. */
void hs__pagemap_set_class(uintptr_t start, size_t npages, uint32_t cls) {
  uintptr_t page = start >> HS_PAGE_SHIFT;
  for (size_t i = 0; i < npages; i++, page++) {
    uint64_t *c = info_slot(page);
    if (c) *c = cls ? HS_INFO_MAKE(cls, start) : 0;
  }
  atomic_thread_fence(memory_order_release);
}

/* Caller holds the page heap lock. */
bool hs__pagemap_set_range(uintptr_t start, size_t npages, hs_span_t *s) {
  uintptr_t page = start >> HS_PAGE_SHIFT;
  for (size_t i = 0; i < npages; i++, page++) {
    if (page >> PAGE_BITS) return false;
    _Atomic(leaf_t *) *slot = &root[page >> LEAF_BITS];
    leaf_t *l = atomic_load_explicit(slot, memory_order_relaxed);
    if (!l) {
      l = hs__os_map(sizeof(leaf_t));
      if (!l) return false;
      hs__pagemap_bytes += sizeof(leaf_t);
      atomic_store_explicit(slot, l, memory_order_release);
    }
    atomic_store_explicit(&l->spans[page & (LEAF_LEN - 1)], s,
                          memory_order_release);
  }
  return true;
}
