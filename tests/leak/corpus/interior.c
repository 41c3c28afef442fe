/* The only reference is an interior pointer (into the middle of the block),
 * as container_of-style code and array walks keep: not a leak. */
#include "corpus.h"
#include <string.h>

static char *g_mid;

NOINLINE char *make_array(size_t n) {
  char *p = malloc(n); /* @in_alloc */
  memset(p, 1, n);
  return p;
}

int main(void) {
  char *p = make_array(256);
  g_mid = p + 100;
  p = NULL;
  corpus_touch(p);
  return 0;
}
