/* latency: malloc(32) + free, back to back, in a tight loop.
 *
 * The best case of every allocator: the same block goes out and comes back,
 * so only the fast paths run (size->class lookup, thread-cache pop/push,
 * and whatever checks the allocator makes). ns_per_op = ns per pair.
 *
 * A fixed warm-up of WARMUP pairs runs before the timed loop, also when the
 * iteration count is 0, so `latency 0` is a baseline for instruction counts:
 * bench/run-alloc.sh runs `latency N` and `latency 0` under callgrind and
 * divides the difference in instructions by N.
 *
 * usage: latency [pairs=100000000] */
#include "bench.h"

#define WARMUP 10000

static inline void pair(long i) {
  char *p = malloc(32);
  p[0] = (char)i; /* the pointer escapes: no malloc/free elision */
  bench_consume(p);
  free(p);
}

int main(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, 1, 100000000);
  for (long i = 0; i < WARMUP; i++) pair(i);
  bench_clock_t t0 = bench_clock();
  for (long i = 0; i < n; i++) pair(i);
  bench_clock_t t1 = bench_clock();
  bench_report("latency", t0, t1, n, NULL);
  return 0;
}
