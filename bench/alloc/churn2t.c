/* churn2t: two threads, each churning its own window of 16..4096 B objects.
 *
 * Like churn, but with a wider size range (more size classes, spans of
 * several pages) and two threads running at once. Objects never cross
 * threads, so a good allocator scales perfectly; shared locks or false
 * sharing in the allocator show up as lost time.
 * One op = one free + one malloc in one thread; ns_per_op is wall time over
 * the ops of both threads.
 *
 * usage: churn2t [ops_per_thread=10000000] [window=1000] [threads=2] */
#include "bench.h"

#include <pthread.h>

typedef struct {
  long ops, window;
  uint64_t seed;
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  char **slot = calloc((size_t)j->window, sizeof *slot);
  bench_rng_t r;
  bench_rng_seed(&r, j->seed);
  for (long i = 0; i < j->window; i++) {
    size_t n = bench_rng_range(&r, 16, 4096);
    slot[i] = malloc(n);
    slot[i][0] = slot[i][n - 1] = (char)i;
  }
  for (long i = 0; i < j->ops; i++) {
    uint64_t x = bench_rng_next(&r);
    size_t k = (size_t)(x % (uint64_t)j->window);
    size_t n = 16 + (size_t)((x >> 32) % 4081); /* 16..4096 */
    free(slot[k]);
    char *p = malloc(n);
    p[0] = p[n - 1] = (char)i;
    slot[k] = p;
  }
  for (long i = 0; i < j->window; i++) free(slot[i]);
  free(slot);
  return NULL;
}

int main(int argc, char **argv) {
  long ops = bench_arg_long(argc, argv, 1, 10000000);
  long window = bench_arg_long(argc, argv, 2, 1000);
  long nthreads = bench_arg_long(argc, argv, 3, 2);
  if (nthreads < 1 || nthreads > 64) nthreads = 2;
  pthread_t th[64];
  job_t jobs[64];
  bench_clock_t t0 = bench_clock();
  for (long t = 0; t < nthreads; t++) {
    jobs[t] = (job_t){ops, window, 1000 + (uint64_t)t};
    if (pthread_create(&th[t], NULL, worker, &jobs[t])) return 1;
  }
  for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  bench_clock_t t1 = bench_clock();
  char extra[64];
  snprintf(extra, sizeof extra, "threads=%ld", nthreads);
  bench_report("churn2t", t0, t1, ops * nthreads, extra);
  return 0;
}
