/* Size classes: geometry of every class, size -> class lookup for every size
 * a class serves, and the reciprocal offset -> object index for every byte
 * offset of every class's span. */
#include "core/alloc/alloc.h"
#include "check.h"

int main(void) {
  hs__alloc_init();
  CHECKF(hs__num_classes > 1 && hs__num_classes <= HS_NUM_CLASSES, "%u",
         hs__num_classes);
  CHECK(hs__classes[hs__num_classes - 1].size == HS_MAX_SMALL);

  for (uint32_t c = 1; c < hs__num_classes; c++) {
    const hs_class_info_t *ci = &hs__classes[c];
    size_t span = (size_t)ci->pages * HS_PAGE_SIZE;
    CHECKF(ci->size % HS_MIN_ALIGN == 0, "class %u size %u", c, ci->size);
    CHECKF(ci->pages >= 1, "class %u", c);
    CHECKF(ci->objects >= 1, "class %u", c);
    CHECKF((size_t)ci->objects * ci->size <= span, "class %u", c);
    /* objects is the most that fit: no room left for one more */
    CHECKF(span - (size_t)ci->objects * ci->size < ci->size, "class %u", c);
    size_t waste = span - (size_t)ci->objects * ci->size;
    CHECKF(waste * 8 < span, "class %u size %u pages %u waste %zu", c, ci->size,
           ci->pages, waste);
    CHECKF(ci->batch >= 1 && ci->batch <= ci->objects * 64, "class %u", c);
    if (c > 1) CHECKF(ci->size > hs__classes[c - 1].size, "class %u not increasing", c);
  }

  /* hs__size_to_class(n): the smallest class whose size is >= n. */
  uint32_t expect = 1;
  for (size_t n = 0; n <= HS_MAX_SMALL; n++) {
    while (hs__classes[expect].size < n) expect++;
    uint32_t got = hs__size_to_class(n);
    CHECKF(got == expect, "size %zu -> class %u (size %u), want %u (size %u)", n,
           got, hs__classes[got].size, expect, hs__classes[expect].size);
  }
  /* Rounding waste is bounded (<= 12.5% above 128 B). */
  for (size_t n = 129; n <= HS_MAX_SMALL; n++) {
    uint32_t sz = hs__classes[hs__size_to_class(n)].size;
    CHECKF((sz - n) * 8 <= n, "size %zu -> %u", n, sz);
  }

  /* hs__obj_index is an exact division for every offset in a span. */
  for (uint32_t c = 1; c < hs__num_classes; c++) {
    const hs_class_info_t *ci = &hs__classes[c];
    uintptr_t span = (uintptr_t)ci->pages * HS_PAGE_SIZE;
    for (uintptr_t off = 0; off < span; off++) {
      uint32_t idx = hs__obj_index(c, off);
      if (HS_UNLIKELY(idx != off / ci->size))
        CHECKF(0, "class %u size %u offset %zu -> %u, want %zu", c, ci->size,
               (size_t)off, idx, (size_t)(off / ci->size));
      /* free()'s block-start test: exactly the offsets of whole blocks. */
      bool start = off % ci->size == 0 && off / ci->size < ci->objects;
      if (HS_UNLIKELY(hs__is_block_start(c, (uint32_t)off) != start))
        CHECKF(0, "class %u size %u offset %zu: block start %d, want %d", c, ci->size,
               (size_t)off, !start, start);
    }
  }
  /* Info bytes of no class, or of spans with records, never pass. */
  for (uint32_t b = 0; b < 256; b++) {
    if (b >= 1 && b < hs__num_classes) continue;
    for (uint32_t off = 0; off < 4 * HS_PAGE_SIZE; off += 16)
      CHECKF(!hs__is_block_start(b, off), "info byte %#x offset %u passes", b, off);
  }
  printf("%u size classes ok\n", hs__num_classes - 1);
  return 0;
}
