/* Unwinder benchmark program: malloc + free through a call chain of a
 * chosen depth, timed inside the process.
 *
 *   unwbench DEPTH [PAIRS=200000] [REPEATS=7] [leak]
 *
 * With "leak" it also leaks one block from the same chain at the end, so
 * that a leak check's report shows how many frames the unwinder recorded.
 * Prints "RESULT depth=D ns_per_pair=X" with X the fastest of REPEATS
 * rounds, timed in thread CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared
 * machine the time the thread spent descheduled does not count, and the
 * minimum is the round least disturbed by other work. DEPTH counts the
 * frames a whole stack has at the malloc (see main). Each level of the
 * chain is a real frame (noinline, no sibling call); bench/run-stack.sh
 * builds it with and without frame pointers. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile uintptr_t sink;

static int leak_now;
static void *leaked;

NOINLINE static void leaf(size_t n) {
  void *p = malloc(n);
  sink += (uintptr_t)p;
  if (leak_now) leaked = p; /* kept until the end of main, then dropped */
  else free(p);
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
  /* Frames recorded: leaf, the level() chain, main and libc's two start-up
   * frames (__libc_start_call_main, __libc_start_main). */
  int chain = depth > 4 ? depth - 4 : 1;
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    uint64_t t0 = now_ns();
    for (long i = 0; i < pairs; i++) level(chain, 16 + (size_t)(i & 63));
    double ns = (double)(now_ns() - t0) / (double)pairs;
    if (ns < best) best = ns;
  }
  printf("RESULT depth=%d ns_per_pair=%.1f\n", depth, best);
  if (argc > 4) {
    leak_now = 1;
    level(chain, 40);
    sink += (uintptr_t)leaked;
    leaked = NULL;
  }
  return 0;
}
