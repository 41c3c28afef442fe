/* mstress: multi-threaded stress with thread churn and cross-thread frees
 * (in the spirit of mimalloc's test-stress, which mimalloc-bench runs as
 * "mstress"; this is our own code).
 *
 * ROUNDS times, THREADS threads are started and joined. Each keeps up to
 * SLOTS objects of its own; each step it allocates into a random slot
 * (freeing what was there), frees a random slot, or swaps an object with a
 * global transfer array, so objects are freed by threads that did not
 * allocate them and outlive the thread that did (the transfer array
 * survives rounds). Sizes are mostly 8..256 B, 1 in 50 up to 16 KiB, 1 in
 * 1000 up to 1 MiB. Every object is written when allocated.
 * One op = one step.
 *
 * usage: mstress [threads=2] [rounds=20] [steps=200000] [slots=2000] */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>

#define TRANSFER 1024
static _Atomic(char *) transfer[TRANSFER];

typedef struct {
  long steps, nslots;
  uint64_t seed;
} job_t;

static size_t pick_size(bench_rng_t *r) {
  uint64_t x = bench_rng_next(r) % 1000;
  if (x == 0) return bench_rng_range(r, 16 << 10, 1 << 20);
  if (x < 20) return bench_rng_range(r, 257, 16 << 10);
  return bench_rng_range(r, 8, 256);
}

static char *fresh(bench_rng_t *r) {
  size_t n = pick_size(r);
  char *p = malloc(n);
  memset(p, 0x5a, n < 64 ? n : 64);
  p[n - 1] = 1;
  return p;
}

static void *worker(void *arg) {
  job_t *j = arg;
  bench_rng_t r;
  bench_rng_seed(&r, j->seed);
  char **slot = calloc((size_t)j->nslots, sizeof *slot);
  for (long i = 0; i < j->steps; i++) {
    uint64_t x = bench_rng_next(&r);
    size_t k = (size_t)((x >> 8) % (uint64_t)j->nslots);
    unsigned what = (unsigned)(x % 100);
    if (what < 60) {
      free(slot[k]);
      slot[k] = fresh(&r);
    } else if (what < 90) {
      free(slot[k]);
      slot[k] = NULL;
    } else {
      size_t t = (size_t)((x >> 40) % TRANSFER);
      slot[k] = atomic_exchange(&transfer[t], slot[k]);
    }
  }
  for (long k = 0; k < j->nslots; k++) free(slot[k]);
  free(slot);
  return NULL;
}

int main(int argc, char **argv) {
  long nthreads = bench_arg_long(argc, argv, 1, 2);
  long rounds = bench_arg_long(argc, argv, 2, 20);
  long steps = bench_arg_long(argc, argv, 3, 200000);
  long nslots = bench_arg_long(argc, argv, 4, 2000);
  if (nthreads < 1 || nthreads > 64) nthreads = 2;
  if (nslots < 1) nslots = 1;
  pthread_t th[64];
  job_t jobs[64];
  bench_clock_t t0 = bench_clock();
  for (long round = 0; round < rounds; round++) {
    for (long t = 0; t < nthreads; t++) {
      jobs[t] = (job_t){steps, nslots, 1 + (uint64_t)(round * nthreads + t)};
      if (pthread_create(&th[t], NULL, worker, &jobs[t])) return 1;
    }
    for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  }
  for (size_t t = 0; t < TRANSFER; t++) free(atomic_exchange(&transfer[t], NULL));
  bench_clock_t t1 = bench_clock();
  char extra[64];
  snprintf(extra, sizeof extra, "threads=%ld", nthreads);
  bench_report("mstress", t0, t1, nthreads * rounds * steps, extra);
  return 0;
}
