/* One million 16-byte leaks from one site, each written with non-pointer
 * data (unlike million.c, no stale allocator link survives in them): all
 * must be reported, every one direct. The first object of a span is the
 * one a stray pointer to span metadata would hide; with a million objects
 * there are ~2000 spans, so a scan range that strays into the allocator's
 * own span structs shows up here. Run several times (ASLR). */
#include "corpus.h"

NOINLINE void *leak_written(uint64_t i) {
  uint64_t *p = malloc(16); /* @mw_alloc */
  p[0] = i * 2654435761u % 1000003u; /* small integers: never pointers */
  p[1] = 0x1122334455667788ull;
  return p;
}

int main(void) {
  for (uint64_t i = 0; i < 1000000; i++) corpus_touch(leak_written(i)); /* @mw_call */
  return 0;
}
