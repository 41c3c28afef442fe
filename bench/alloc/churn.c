/* churn: single-thread churn of small objects (16..256 B).
 *
 * A window of WINDOW live objects; each op picks a random slot, frees what is
 * there and mallocs a new object of random size, writing its first and last
 * byte. One op = one free + one malloc. Measures the thread-cache fast paths
 * with a non-LIFO pattern (objects are not freed in allocation order).
 *
 * usage: churn [ops=40000000] [window=1000] */
#include "bench.h"

int main(int argc, char **argv) {
  long ops = bench_arg_long(argc, argv, 1, 40000000);
  long window = bench_arg_long(argc, argv, 2, 1000);
  if (window < 1) window = 1;
  char **slot = calloc((size_t)window, sizeof *slot);
  bench_rng_t r;
  bench_rng_seed(&r, 42);
  for (long i = 0; i < window; i++) {
    size_t n = bench_rng_range(&r, 16, 256);
    slot[i] = malloc(n);
    slot[i][0] = slot[i][n - 1] = (char)i;
  }
  bench_clock_t t0 = bench_clock();
  for (long i = 0; i < ops; i++) {
    uint64_t x = bench_rng_next(&r);
    size_t k = (size_t)(x % (uint64_t)window);
    size_t n = 16 + (size_t)((x >> 32) % 241); /* 16..256 */
    free(slot[k]);
    char *p = malloc(n);
    p[0] = p[n - 1] = (char)i;
    slot[k] = p;
  }
  bench_clock_t t1 = bench_clock();
  for (long i = 0; i < window; i++) free(slot[i]);
  free(slot);
  bench_report("churn", t0, t1, ops, NULL);
  return 0;
}
