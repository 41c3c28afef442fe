/* Page map: set/get over ranges, NULL for unmapped and out-of-range
 * (huge, non-canonical) addresses, overwrite, leaf boundaries. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <string.h>

int main(void) {
  hs__alloc_init();
  static hs_span_t a, b, c;
  /* An address range nobody maps in this process: high in the 47-bit space
   * but far from the stack, page aligned. */
  uintptr_t base = (uintptr_t)0x5a5a00000000ull;
  hs__lock(&hs__pageheap_lock);
  CHECK(hs__pagemap_set_range(base, 10, &a));
  hs__unlock(&hs__pageheap_lock);
  for (uintptr_t i = 0; i < 10; i++) {
    uintptr_t pg = base + i * HS_PAGE_SIZE;
    CHECK(hs__pagemap_get(pg) == &a);
    CHECK(hs__pagemap_get(pg + 1) == &a);
    CHECK(hs__pagemap_get(pg + HS_PAGE_SIZE - 1) == &a);
  }
  CHECK(hs__pagemap_get(base - 1) == NULL);
  CHECK(hs__pagemap_get(base + 10 * HS_PAGE_SIZE) == NULL);

  /* Overwrite a sub-range. */
  hs__lock(&hs__pageheap_lock);
  CHECK(hs__pagemap_set_range(base + 3 * HS_PAGE_SIZE, 2, &b));
  hs__unlock(&hs__pageheap_lock);
  CHECK(hs__pagemap_get(base + 2 * HS_PAGE_SIZE) == &a);
  CHECK(hs__pagemap_get(base + 3 * HS_PAGE_SIZE) == &b);
  CHECK(hs__pagemap_get(base + 4 * HS_PAGE_SIZE + 100) == &b);
  CHECK(hs__pagemap_get(base + 5 * HS_PAGE_SIZE) == &a);

  /* A range crossing a leaf boundary (leaves cover 2^18 pages = 2 GiB). */
  uintptr_t leaf = (uintptr_t)1 << (18 + HS_PAGE_SHIFT);
  uintptr_t cross = 0x300000000000ull + 7 * leaf - 3 * HS_PAGE_SIZE;
  hs__lock(&hs__pageheap_lock);
  CHECK(hs__pagemap_set_range(cross, 6, &c));
  hs__unlock(&hs__pageheap_lock);
  for (int i = 0; i < 6; i++) CHECK(hs__pagemap_get(cross + i * HS_PAGE_SIZE) == &c);
  CHECK(hs__pagemap_get(cross - 1) == NULL);
  CHECK(hs__pagemap_get(cross + 6 * HS_PAGE_SIZE) == NULL);

  /* Clearing. */
  hs__lock(&hs__pageheap_lock);
  CHECK(hs__pagemap_set_range(base, 10, NULL));
  hs__unlock(&hs__pageheap_lock);
  for (int i = 0; i < 10; i++) CHECK(hs__pagemap_get(base + i * HS_PAGE_SIZE) == NULL);

  /* Unmapped and impossible addresses. */
  int local;
  CHECK(hs__pagemap_get(0) == NULL);
  CHECK(hs__pagemap_get(1) == NULL);
  CHECK(hs__pagemap_get((uintptr_t)&local) == NULL);
  CHECK(hs__pagemap_get((uintptr_t)&main) == NULL);
  CHECK(hs__pagemap_get((uintptr_t)1 << 47) == NULL);
  CHECK(hs__pagemap_get((uintptr_t)1 << 48) == NULL);
  CHECK(hs__pagemap_get((uintptr_t)1 << 63) == NULL);
  CHECK(hs__pagemap_get(UINTPTR_MAX) == NULL);
  CHECK(hs__pagemap_get(0xffff800000000000ull) == NULL);
  CHECK(hs__pagemap_get(0xdeadbeefdeadbeefull) == NULL);
  /* Setting beyond the address space fails instead of corrupting memory. */
  hs__lock(&hs__pageheap_lock);
  CHECK(!hs__pagemap_set_range((uintptr_t)1 << 48, 1, &a));
  CHECK(!hs__pagemap_set_range(UINTPTR_MAX & ~(HS_PAGE_SIZE - 1), 1, &a));
  hs__unlock(&hs__pageheap_lock);

  /* Real allocations are found, foreign memory is not. */
  void *p = malloc(100), *q = malloc(1 << 20);
  hs_span_t *sp = hs__pagemap_get((uintptr_t)p), *sq = hs__pagemap_get((uintptr_t)q);
  CHECK(sp && sp->kind == HS_SPAN_SMALL);
  CHECK((uintptr_t)p >= sp->start && (uintptr_t)p < sp->start + sp->npages * HS_PAGE_SIZE);
  CHECK(sq && sq->kind == HS_SPAN_LARGE && sq->start == (uintptr_t)q);
  CHECK(hs__pagemap_get((uintptr_t)q + (1 << 20) - 1) == sq);
  free(p);
  free(q);
  puts("pagemap ok");
  return 0;
}
