/* A direct leak four calls deep: frame #0 is the function that called
 * malloc, #1..#3 its callers, each at the marked line. Prints its pid (the
 * log-path cases use it to find PREFIX.PID). */
#include "corpus.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

NOINLINE void *level4(size_t n) {
  void *p = malloc(n); /* @dd_malloc */
  memset(p, 0xab, n);
  return p;
}
NOINLINE void *level3(size_t n) { return level4(n); /* @dd_l3 */ }
NOINLINE void *level2(size_t n) { return level3(n); /* @dd_l2 */ }
NOINLINE void level1(void) {
  void *p = level2(48); /* @dd_l1 */
  corpus_touch(p);
}

int main(void) {
  printf("pid=%d\n", (int)getpid());
  fflush(stdout);
  level1();
  return 0;
}
