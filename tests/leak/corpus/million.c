/* One million 16-byte leaks from a single site, never written (as a loop
 * of malloc whose results are dropped): one group, every object direct. */
#include "corpus.h"

NOINLINE void *leak16(void) {
  return malloc(16); /* @mil_alloc */
}

int main(void) {
  for (int i = 0; i < 1000000; i++) corpus_touch(leak16()); /* @mil_call */
  return 0;
}
