/* cachescratch: passive false sharing (after Hoard's cache-scratch, as run
 * by mimalloc-bench; this is our own code).
 *
 * The main thread allocates one small object per worker, all in a row (so
 * they likely share cache lines), and hands one to each worker. A worker
 * frees its object, then ITER times allocates an object of the same size,
 * writes it REPS times and frees it. An allocator that hands the freed
 * object (or a neighbour of another thread's object) back to the worker
 * makes the threads write the same cache line: the run slows down by the
 * cost of cache-line ping-pong. Per-thread heaps that do not reuse a block
 * freed by a foreign owner avoid it.
 * One op = one write.
 *
 * usage: cachescratch [threads=2] [iter=1000] [size=8] [reps=200000] */
#include "bench.h"

#include <pthread.h>

typedef struct {
  char *first;
  long iter, size, reps;
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  free(j->first);
  for (long i = 0; i < j->iter; i++) {
    volatile char *p = malloc((size_t)j->size);
    for (long k = 0; k < j->reps; k++) {
      p[k % j->size] = (char)k;
      (void)p[(k + 1) % j->size];
    }
    free((void *)p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  long nthreads = bench_arg_long(argc, argv, 1, 2);
  long iter = bench_arg_long(argc, argv, 2, 1000);
  long size = bench_arg_long(argc, argv, 3, 8);
  long reps = bench_arg_long(argc, argv, 4, 200000);
  if (nthreads < 1 || nthreads > 64) nthreads = 2;
  if (size < 1) size = 8;
  pthread_t th[64];
  job_t jobs[64];
  for (long t = 0; t < nthreads; t++) jobs[t] = (job_t){malloc((size_t)size), iter, size, reps};
  bench_clock_t t0 = bench_clock();
  for (long t = 0; t < nthreads; t++)
    if (pthread_create(&th[t], NULL, worker, &jobs[t])) return 1;
  for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  bench_clock_t t1 = bench_clock();
  char extra[64];
  snprintf(extra, sizeof extra, "threads=%ld", nthreads);
  bench_report("cachescratch", t0, t1, nthreads * iter * reps, extra);
  return 0;
}
