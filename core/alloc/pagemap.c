/* Page map: page number -> span, a two-level radix tree over the 48-bit user
 * address space. The root lives in .bss (1 MiB of untouched zero pages);
 * leaves are mapped on demand under the page heap lock. Reads are lock-free:
 * the scanner probes arbitrary words with hs__pagemap_get. */
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

hs_span_t *hs__pagemap_get(uintptr_t a) {
  uintptr_t page = a >> HS_PAGE_SHIFT;
  if (HS_UNLIKELY(page >> PAGE_BITS)) return NULL;
  leaf_t *l = atomic_load_explicit(&root[page >> LEAF_BITS], memory_order_acquire);
  if (HS_UNLIKELY(!l)) return NULL;
  return atomic_load_explicit(&l->spans[page & (LEAF_LEN - 1)],
                              memory_order_acquire);
}

/* Mark (or unmark) a span's pages as keeping records: free()'s fast path
 * then leaves them to the slow path. */
void hs__pagemap_mark_recorded(uintptr_t start, size_t npages, bool recorded) {
  uintptr_t page = start >> HS_PAGE_SHIFT;
  for (size_t i = 0; i < npages; i++, page++) {
    leaf_t *l = atomic_load_explicit(&root[page >> LEAF_BITS], memory_order_relaxed);
    if (!l) continue;
    uint64_t *c = &l->info[page & (LEAF_LEN - 1)];
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
    leaf_t *l = atomic_load_explicit(&root[page >> LEAF_BITS], memory_order_relaxed);
    if (l) l->info[page & (LEAF_LEN - 1)] = cls ? HS_INFO_MAKE(cls, start) : 0;
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
