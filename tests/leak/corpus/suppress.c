/* Two leaks: one from suppressed_func (64 bytes) and one from
 * reported_func (32 bytes). The suppression files name suppressed_func. */
#include "corpus.h"
#include <string.h>

NOINLINE void *suppressed_func(void) {
  void *p = malloc(64); /* @sup_suppressed */
  memset(p, 0, 64);
  return p;
}

NOINLINE void *reported_func(void) {
  void *p = malloc(32); /* @sup_reported */
  memset(p, 0, 32);
  return p;
}

int main(void) {
  corpus_touch(suppressed_func());
  corpus_touch(reported_func()); /* @sup_main */
  return 0;
}
