/* Minimal repro: a reachable block that the program never wrote to must
 * not keep alive the block allocated right after it. heapscope pops small
 * blocks from a LIFO free list whose link lives in the block's first word,
 * and malloc leaves that link in place: `keep` (reachable from a global)
 * then holds a pointer to the next free block of its size class, which is
 * exactly the block leak_one() allocates and drops. */
#include "corpus.h"

void *keep;

NOINLINE void *get16(void) {
  return malloc(16); /* @sl_alloc */
}

NOINLINE void leak_one(void) { corpus_touch(get16()); /* @sl_call */ }

int main(void) {
  /* Arrange the free list as A -> B: free B, then A (LIFO). */
  void *a = malloc(16), *b = malloc(16);
  free(b);
  free(a);
  a = b = NULL;
  keep = get16(); /* A: reachable; its bytes are never written */
  leak_one();     /* B: leaked */
  return 0;
}
