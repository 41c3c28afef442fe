/* main holds the only pointer to a block in its own frame, then ends the
 * program. With exit() (the default) main's frame is live: the block is
 * reachable, as every checker agrees. With the argument "return" main
 * returns first: its frame is dead, and the block, freed by nobody, is a
 * leak (gperftools #384: locals of main hid leaks). */
#include "corpus.h"
#include <string.h>

NOINLINE void *held_alloc(size_t n) {
  void *p = malloc(n); /* @em_alloc */
  memset(p, 0, n);
  return p;
}

NOINLINE void finish(int status) { exit(status); }

int main(int argc, char **argv) {
  void *volatile held = held_alloc(56); /* @em_call */
  (void)held;
  if (argc > 1 && !strcmp(argv[1], "return")) return 0;
  if (argc > 1 && !strcmp(argv[1], "deeper")) finish(0); /* exit() from a callee of main */
  exit(0);
}
