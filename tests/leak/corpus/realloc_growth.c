/* Buffers grown by realloc and then dropped: the leak is reported at the
 * realloc call site that produced the final block, with its final size.
 * One small (4 KiB) and one large (1 MiB, page-heap path). */
#include "corpus.h"
#include <string.h>

NOINLINE char *grow(char *p, size_t n) {
  return realloc(p, n); /* @rg_realloc */
}

NOINLINE char *build(size_t final) {
  char *p = malloc(16); /* @rg_first */
  memset(p, 0, 16);
  for (size_t n = 32; n <= final; n *= 2) {
    p = grow(p, n); /* @rg_grow */
    memset(p, 'g', n);
  }
  return p;
}

NOINLINE void small_leak(void) { corpus_touch(build(4096)); /* @rg_small */ }
NOINLINE void large_leak(void) { corpus_touch(build(1 << 20)); /* @rg_large */ }

int main(void) {
  small_leak();
  large_leak();
  return 0;
}
