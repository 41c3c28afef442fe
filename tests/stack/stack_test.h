/* Shared by the unwinder tests (they link the static runtime and read the
 * stack recorded for a block straight from its record). */
#ifndef HEAPSCOPE_TESTS_STACK_STACK_TEST_H
#define HEAPSCOPE_TESTS_STACK_STACK_TEST_H
#include "core/record/record.h"
#include "tests/unit/check.h"

#include <heapscope/heapscope.h>

/* The stack recorded for live block p: its frames in *pcs, the depth as
 * the result (0 when p carries no record). */
static inline int recorded_stack(const void *p, const uintptr_t **pcs) {
  hs_rec_t *r = hs__record_of((uintptr_t)p, NULL);
  if (!r) return 0;
  hs_bucket_t *b = hs__depot_get(r->bucket);
  if (!b) return 0;
  *pcs = b->pcs;
  return (int)b->depth;
}

/* pc lies in the first `len` bytes of function fn. */
static inline int pc_in(uintptr_t pc, const void *fn, size_t len) {
  return pc > (uintptr_t)fn && pc < (uintptr_t)fn + len;
}
#endif
