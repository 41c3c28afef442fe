/* Unwinder benchmark program: malloc + free through a call chain of a
 * chosen depth, timed inside the process.
 *
 *   unwbench DEPTH [PAIRS=200000] [REPEATS=7]
 *
 * Prints "RESULT depth=D ns_per_pair=X" with X the fastest of REPEATS
 * rounds, timed in thread CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared
 * machine the time the thread spent descheduled does not count, and the
 * minimum is the round least disturbed by other work. Each level of the chain is a real frame (noinline, no
 * sibling call); built by bench/run-stack.sh with and without frame
 * pointers. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile uintptr_t sink;

NOINLINE static void leaf(size_t n) {
  void *p = malloc(n);
  sink += (uintptr_t)p;
  free(p);
  __asm__ volatile("" ::: "memory");
}

NOINLINE static void level(int depth, size_t n) {
  if (depth <= 1) leaf(n);
  else level(depth - 1, n);
  __asm__ volatile("" ::: "memory"); /* a real frame: no tail call */
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int depth = argc > 1 ? atoi(argv[1]) : 10;
  long pairs = argc > 2 ? atol(argv[2]) : 200000;
  int repeats = argc > 3 ? atoi(argv[3]) : 7;
  /* main and the libc frames below it count as 3: the chain adds the rest. */
  int chain = depth > 4 ? depth - 3 : 1;
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    uint64_t t0 = now_ns();
    for (long i = 0; i < pairs; i++) level(chain, 16 + (size_t)(i & 63));
    double ns = (double)(now_ns() - t0) / (double)pairs;
    if (ns < best) best = ns;
  }
  printf("RESULT depth=%d ns_per_pair=%.1f\n", depth, best);
  return 0;
}
