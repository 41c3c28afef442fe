/* Size classes: 16-byte steps to 128 B, then eight classes per power of two
 * up to 256 KiB (at most 12.5% internal waste from rounding). Each class gets
 * the smallest span (in pages) whose tail waste is under 1/8 of the span;
 * classes up to 1 KiB also get at least 8 objects per span, so they refill
 * in useful batches.
 * Computed once at init into plain tables; lookups are two loads. */
#include "core/alloc/internal.h"

hs_class_info_t hs__classes[HS_NUM_CLASSES];
uint32_t hs__num_classes;
uint8_t hs__class_small[(1024 >> 4) + 1];
uint8_t hs__class_mid[(HS_MAX_SMALL >> 7) + 1];
hs_class_check_t hs__class_check;

static void add_class(uint32_t size) {
  hs_class_info_t *c = &hs__classes[hs__num_classes];
  uint32_t pages = (uint32_t)((size + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT);
  for (;; pages++) {
    size_t span = (size_t)pages << HS_PAGE_SHIFT;
    size_t objs = span / size;
    /* At least 8 objects per span only for small classes: for big ones it
     * made spans of 32-256 KiB that one survivor keeps pinned (bench/frag
     * peak RSS fell from 447 to 374 MiB when limited to <= 1 KiB). */
    if (objs >= 8 || size > 1024) {
      if ((span - objs * size) * 8 < span) break;
    }
  }
  c->size = size;
  c->pages = pages;
  c->objects = (uint32_t)(((size_t)pages << HS_PAGE_SHIFT) / size);
  uint32_t batch = (uint32_t)((64u << 10) / size);
  c->batch = batch < 2 ? 2 : batch > 32 ? 32 : batch;
  c->recip = ((1ull << 42) + size - 1) / size;
  uint64_t magic = UINT64_MAX / size + 1;
  if (magic * size == 0) magic++; /* a power of two: e would be 0 */
  hs__class_check.magic[hs__num_classes] = magic;
  hs__class_check.bound[hs__num_classes] = c->objects * (magic * size); /* objects * e */
  hs__num_classes++;
}

void hs__sizeclass_init(void) {
  if (hs__num_classes) return;
  hs__num_classes = 1; /* class 0 means "not initialised / not small" */
  for (uint32_t s = 16; s <= 128; s += 16) add_class(s);
  for (uint32_t base = 128; base < HS_MAX_SMALL; base *= 2)
    for (uint32_t s = base + base / 8; s <= 2 * base; s += base / 8)
      add_class(s);
  uint32_t cls = 1;
  for (size_t i = 0; i <= (1024 >> 4); i++) {
    size_t n = i << 4;
    while (hs__classes[cls].size < n) cls++;
    hs__class_small[i] = (uint8_t)cls;
  }
  cls = 1;
  for (size_t i = 0; i <= (HS_MAX_SMALL >> 7); i++) {
    size_t n = i << 7;
    while (hs__classes[cls].size < n) cls++;
    hs__class_mid[i] = (uint8_t)cls;
  }
}
