/* The recorder's inline block lookups give what hs__block_at gives:
 * hs__block_new_rec (malloc: a block just handed out) the same record slot
 * as hs__block_at(p, true, ...), and hs__block_at_recorded_small (free)
 * either every field of hs__block_at(p, false, ...) or false, and false
 * whenever hs__block_at finds no small user block with records there:
 * interior and unaligned pointers, blocks of spans without records, large
 * blocks, pointers outside the heap. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <string.h>

static void same_block(void *p, const char *what) {
  hs_block_t ref, fast;
  hs__block_at(p, false, 0, &ref);
  memset(&fast, 0xa5, sizeof fast);
  bool got = hs__block_at_recorded_small(p, &fast);
  bool expect = ref.kind == HS_BLOCK_USER && !ref.large && ref.rec != NULL;
  CHECKF(got == expect, "%s %p: inline lookup says %d, hs__block_at kind %d large %d rec %p", what,
         p, got, ref.kind, ref.large, (void *)ref.rec);
  if (!got) return;
  CHECKF(fast.kind == ref.kind && fast.start == ref.start && fast.size == ref.size &&
             fast.large == ref.large && fast.ever_used == ref.ever_used && fast.rec == ref.rec &&
             fast.span == ref.span,
         "%s %p: fields differ (start %#lx/%#lx size %zu/%zu rec %p/%p)", what, p,
         (unsigned long)fast.start, (unsigned long)ref.start, fast.size, ref.size,
         (void *)fast.rec, (void *)ref.rec);
}

int main(void) {
  enum { PER_CLASS = 40 };
  static void *blocks[256][PER_CLASS]; /* (zeroed: free(NULL) for the slots not used) */
  int checked = 0;
  for (uint32_t cls = 1; cls < hs__num_classes; cls++) {
    size_t size = hs__classes[cls].size;
    int per = size > 8192 ? 3 : PER_CLASS; /* (blocks of several spans for the small ones) */
    for (int i = 0; i < per; i++) {
      void *p = malloc(size);
      CHECK(p);
      blocks[cls][i] = p;
      /* Before its span has records: the inline lookup declines. */
      same_block(p, "unrecorded");
      hs_block_t b, nb;
      /* Every other block gets a record the general way, the rest the
       * inline way: both must land in the same slot. */
      if (i % 2 == 0) {
        hs__block_at(p, true, 1, &b);
        CHECK(b.rec != NULL);
        hs_rec_t *r = hs__block_new_rec(p, 1, &nb);
        CHECKF(r == b.rec && nb.rec == b.rec && nb.span == b.span && !nb.large,
               "class %u: hs__block_new_rec slot %p, hs__block_at %p", cls, (void *)r,
               (void *)b.rec);
      } else {
        hs_rec_t *r = hs__block_new_rec(p, 1, &nb);
        hs__block_at(p, true, 1, &b);
        CHECKF(r != NULL && r == b.rec, "class %u: slot %p then %p", cls, (void *)r,
               (void *)b.rec);
      }
      same_block(p, "block");
      same_block((char *)p + 8, "inside");
      same_block((char *)p + 1, "unaligned");
      if (size > 16) same_block((char *)p + size - 16, "tail");
      checked++;
    }
  }
  /* Large blocks, and pointers the heap does not own. */
  void *big = malloc(4u << 20);
  hs_block_t b, nb;
  hs__block_at(big, true, 1, &b);
  CHECK(hs__block_new_rec(big, 1, &nb) == b.rec && nb.large);
  same_block(big, "large");
  int local;
  static int global;
  same_block(&local, "stack");
  same_block(&global, "global");
  same_block(NULL, "NULL");
  free(big);
  for (uint32_t cls = 1; cls < hs__num_classes; cls++)
    for (int i = 0; i < PER_CLASS; i++) free(blocks[cls][i]);
  printf("test_blockmeta: %d blocks of %u classes agree\n", checked, hs__num_classes - 1);
  return 0;
}
