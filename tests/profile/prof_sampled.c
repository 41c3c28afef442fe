/* Sampled recording: argv[1] MiB (default 100) of 1 KiB allocations under
 * alloc_sampled, each freed at once. Run with HEAPSCOPE_SAMPLE_BYTES: the
 * dump's alloc bytes must estimate argv[1] MiB. */
#include "proftest.h"

NOINLINE void alloc_sampled(long n) {
  for (long i = 0; i < n; i++) {
    char *p = malloc(1024);
    p[0] = 1;
    sink = p;
    free(p);
  }
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 100;
  alloc_sampled(mib * 1024);
  say("allocated %ld MiB\n", mib);
  return 0;
}
