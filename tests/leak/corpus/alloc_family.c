/* Leaks through calloc, strdup, posix_memalign and aligned_alloc. strdup
 * allocates inside libc: frame #0 is strdup, frame #1 the caller. */
#include "corpus.h"
#include <stdio.h>
#include <string.h>

NOINLINE void family(void) {
  void *c = calloc(10, 12); /* @af_calloc */
  char *s = strdup("a leaky string"); /* @af_strdup */
  void *m = NULL;
  if (posix_memalign(&m, 64, 100)) exit(98); /* @af_memalign */
  memset(m, 1, 100);
  void *a = aligned_alloc(128, 256); /* @af_aligned */
  memset(a, 2, 256);
  if (((uintptr_t)m & 63) || ((uintptr_t)a & 127)) exit(97);
  corpus_touch(c);
  corpus_touch(s);
}

int main(void) {
  family();
  return 0;
}
