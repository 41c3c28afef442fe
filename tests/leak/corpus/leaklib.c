/* A library that main dlopen()s; lib_leak() leaks 40 bytes. */
#include "corpus.h"
#include <string.h>

NOINLINE void *lib_alloc(size_t n) {
  void *p = malloc(n); /* @lib_alloc */
  memset(p, 0x5c, n);
  return p;
}

void lib_leak(void) { corpus_touch(lib_alloc(40)); /* @lib_call */ }
