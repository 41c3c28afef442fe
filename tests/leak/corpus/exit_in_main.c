/* main calls exit() while its own frame still holds the only pointer to a
 * block. heapscope's exit-time check does not scan the exiting thread's
 * stack (its frames never run again), so this is reported as a leak;
 * LeakSanitizer and gperftools scan that stack and call it reachable. */
#include "corpus.h"
#include <string.h>

NOINLINE void *held_alloc(size_t n) {
  void *p = malloc(n); /* @em_alloc */
  memset(p, 0, n);
  return p;
}

int main(void) {
  void *volatile held = held_alloc(56); /* @em_call */
  (void)held;
  exit(0);
}
