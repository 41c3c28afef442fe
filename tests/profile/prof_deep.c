/* A 50-level recursion that allocates at the bottom: deep_leaf = 3: 12288
 * [3: 12288], called from 50 nested recurse() frames, then main. With
 * HEAPSCOPE_STACK_DEPTH=64 the whole stack is kept; the default depth (30)
 * keeps deep_leaf and 29 recurse frames. */
#include "proftest.h"

static void *keep[3];

NOINLINE void deep_leaf(void) {
  for (int i = 0; i < 3; i++) keep[i] = malloc(4096);
}

NOINLINE int recurse(int n) {
  if (n <= 1) deep_leaf();
  else recurse(n - 1);
  return n; /* not a tail call */
}

int main(void) {
  recurse(50);
  say("deep done\n");
  return 0;
}
