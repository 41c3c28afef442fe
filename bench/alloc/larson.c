/* larson: a server-style workload (after Larson and Krishnan's benchmark,
 * run by mimalloc-bench as "larsonN"; this is our own code).
 *
 * THREADS threads each own an array of CHUNKS blocks of 8..1000 B. A thread
 * does OPS steps (free a random block, allocate a new one of random size,
 * write it) and then hands its array to a new thread and exits; GENS
 * generations of threads follow each other. So most blocks are freed by a
 * thread other than the one that allocated them, and thread caches are
 * created and torn down all the time, as in a server that starts a thread
 * per connection.
 * One op = one free + one malloc.
 *
 * usage: larson [threads=2] [gens=50] [ops=200000] [chunks=1000] */
#include "bench.h"

#include <pthread.h>

typedef struct {
  char **blk;
  long chunks, ops;
  bench_rng_t rng;
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  for (long i = 0; i < j->ops; i++) {
    uint64_t x = bench_rng_next(&j->rng);
    size_t k = (size_t)(x % (uint64_t)j->chunks);
    size_t n = 8 + (size_t)((x >> 32) % 993);
    free(j->blk[k]);
    char *p = malloc(n);
    p[0] = p[n - 1] = (char)i;
    j->blk[k] = p;
  }
  return NULL;
}

int main(int argc, char **argv) {
  long nthreads = bench_arg_long(argc, argv, 1, 2);
  long gens = bench_arg_long(argc, argv, 2, 50);
  long ops = bench_arg_long(argc, argv, 3, 200000);
  long chunks = bench_arg_long(argc, argv, 4, 1000);
  if (nthreads < 1 || nthreads > 64) nthreads = 2;
  if (chunks < 1) chunks = 1;
  pthread_t th[64];
  job_t jobs[64];
  for (long t = 0; t < nthreads; t++) {
    jobs[t].blk = calloc((size_t)chunks, sizeof(char *));
    jobs[t].chunks = chunks;
    jobs[t].ops = ops;
    bench_rng_seed(&jobs[t].rng, 4141 + (uint64_t)t);
    for (long k = 0; k < chunks; k++) {
      size_t n = bench_rng_range(&jobs[t].rng, 8, 1000);
      jobs[t].blk[k] = malloc(n);
      jobs[t].blk[k][0] = 1;
    }
  }
  bench_clock_t t0 = bench_clock();
  for (long g = 0; g < gens; g++) {
    for (long t = 0; t < nthreads; t++)
      if (pthread_create(&th[t], NULL, worker, &jobs[t])) return 1;
    for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  }
  bench_clock_t t1 = bench_clock();
  for (long t = 0; t < nthreads; t++) {
    for (long k = 0; k < chunks; k++) free(jobs[t].blk[k]);
    free(jobs[t].blk);
  }
  char extra[64];
  snprintf(extra, sizeof extra, "threads=%ld", nthreads);
  bench_report("larson", t0, t1, nthreads * gens * ops, extra);
  return 0;
}
