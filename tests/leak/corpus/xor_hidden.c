/* The only reference is XOR-ed with a key (as in XOR linked lists): a
 * conservative scanner cannot see it, so the block is a leak. */
#include "corpus.h"
#include <string.h>

static uintptr_t g_hidden;

NOINLINE void *hidden_alloc(size_t n) {
  void *p = malloc(n); /* @xor_alloc */
  memset(p, 0, n);
  return p;
}

int main(void) {
  g_hidden = (uintptr_t)hidden_alloc(128) ^ (uintptr_t)0x5a5a5a5a5a5a5a5aull; /* @xor_call */
  return 0;
}
