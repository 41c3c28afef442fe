/* Shared by the unwinder tests (they link the static runtime and read the
 * stack recorded for a block straight from its record). */
#ifndef HEAPSCOPE_TESTS_STACK_STACK_TEST_H
#define HEAPSCOPE_TESTS_STACK_STACK_TEST_H
#include "core/record/record.h"
#include "core/symbol/symbolize.h"
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

/* The function names of the stack recorded for live block p (symbolized
 * against the bucket's module epoch), up to max; the depth. */
typedef struct stack_test_name {
  const char *name;
} stack_test_name_t;
static inline void stack_test_take(const hs_symbol_t *sym, void *ctx) {
  stack_test_name_t *f = ctx;
  if (!f->name) f->name = sym->function;
}
static inline int recorded_names(const void *p, const char **names, int max) {
  hs_rec_t *r = hs__record_of((uintptr_t)p, NULL);
  if (!r) return 0;
  hs_bucket_t *b = hs__depot_get(r->bucket);
  if (!b) return 0;
  int n = (int)b->depth < max ? (int)b->depth : max;
  for (int i = 0; i < n; i++) {
    stack_test_name_t f = {NULL};
    hs__symbolize(b->pcs[i], b->epoch, stack_test_take, &f);
    names[i] = f.name ? f.name : "?";
  }
  return n;
}

/* pc lies in the first `len` bytes of function fn. */
static inline int pc_in(uintptr_t pc, const void *fn, size_t len) {
  return pc > (uintptr_t)fn && pc < (uintptr_t)fn + len;
}
#endif
