/* A leak in a constructor (before main) and one in main. normal reports
 * both; minimal must not report the constructor's ("pre-main allocations
 * never count", gperftools: "you can leak some memory in your
 * initialization routines (that run before main())"). The constructor
 * allocates below a 4 KiB frame so that no stale copy of the pointer
 * survives in the stack frames that are live again at exit. */
#include "corpus.h"
#include <string.h>

NOINLINE void *ctor_alloc(size_t n) {
  void *p = malloc(n); /* @ct_alloc */
  memset(p, 0, n);
  return p;
}

NOINLINE void deep_init(void) {
  volatile char pad[4096];
  pad[0] = 0;
  corpus_touch(ctor_alloc(24)); /* @ct_deep */
  (void)pad;
}

__attribute__((constructor)) static void init(void) { deep_init(); }

int main(void) {
  corpus_touch(ctor_alloc(40)); /* @ct_main */
  return 0;
}
