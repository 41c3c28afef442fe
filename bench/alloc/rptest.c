/* rptest: batches of mixed sizes with a share passed to another thread
 * (in the spirit of rpmalloc's benchmark, run by mimalloc-bench as "rptest";
 * this is our own code).
 *
 * Each of THREADS threads repeats: allocate BATCH blocks (70% 16..512 B,
 * 25% ..4 KiB, 4% ..32 KiB, 1% ..128 KiB; first and last bytes written),
 * free three quarters of them in a strided order, hand the rest to the next
 * thread's inbox, and free whatever its own inbox holds. Blocks are freed
 * in another order than they were allocated and by another thread.
 * One op = one malloc or free.
 *
 * usage: rptest [threads=2] [loops=4000] [batch=512] */
#include "bench.h"

#include <pthread.h>

#define INBOX 8192

typedef struct {
  pthread_mutex_t lock;
  char *item[INBOX];
  long n;
} inbox_t;

static inbox_t *inboxes;
static long nthreads, loops, batch;

static size_t pick_size(bench_rng_t *r) {
  uint64_t x = bench_rng_next(r) % 100;
  if (x < 70) return bench_rng_range(r, 16, 512);
  if (x < 95) return bench_rng_range(r, 513, 4096);
  if (x < 99) return bench_rng_range(r, 4097, 32 << 10);
  return bench_rng_range(r, (32 << 10) + 1, 128 << 10);
}

static void drain(inbox_t *in, char **tmp) {
  pthread_mutex_lock(&in->lock);
  long n = in->n;
  memcpy(tmp, in->item, (size_t)n * sizeof *tmp);
  in->n = 0;
  pthread_mutex_unlock(&in->lock);
  for (long i = 0; i < n; i++) free(tmp[i]);
}

static void *worker(void *arg) {
  long id = (long)(intptr_t)arg;
  bench_rng_t r;
  bench_rng_seed(&r, 77 + (uint64_t)id);
  char **blk = malloc((size_t)batch * sizeof *blk);
  char **out = malloc((size_t)batch * sizeof *out);
  char **tmp = malloc(INBOX * sizeof *tmp);
  inbox_t *next = &inboxes[(id + 1) % nthreads];
  for (long l = 0; l < loops; l++) {
    for (long i = 0; i < batch; i++) {
      size_t n = pick_size(&r);
      blk[i] = malloc(n);
      blk[i][0] = blk[i][n - 1] = (char)i;
    }
    /* A stride coprime with the batch visits every block once. */
    long stride = batch % 7 ? 7 : 1, pass = 0;
    for (long i = 0, k = 0; i < batch; i++, k = (k + stride) % batch) {
      if ((i & 3) == 3) out[pass++] = blk[k];
      else free(blk[k]);
    }
    pthread_mutex_lock(&next->lock);
    long room = INBOX - next->n, give = pass < room ? pass : room;
    memcpy(next->item + next->n, out, (size_t)give * sizeof *out);
    next->n += give;
    pthread_mutex_unlock(&next->lock);
    for (long i = give; i < pass; i++) free(out[i]);
    drain(&inboxes[id], tmp);
  }
  free(blk);
  free(out);
  free(tmp);
  return NULL;
}

int main(int argc, char **argv) {
  nthreads = bench_arg_long(argc, argv, 1, 2);
  loops = bench_arg_long(argc, argv, 2, 4000);
  batch = bench_arg_long(argc, argv, 3, 512);
  if (nthreads < 1 || nthreads > 64) nthreads = 2;
  if (batch < 4) batch = 4;
  inboxes = calloc((size_t)nthreads, sizeof *inboxes);
  for (long t = 0; t < nthreads; t++) pthread_mutex_init(&inboxes[t].lock, NULL);
  pthread_t th[64];
  bench_clock_t t0 = bench_clock();
  for (long t = 0; t < nthreads; t++)
    if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) return 1;
  for (long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  for (long t = 0; t < nthreads; t++)
    for (long i = 0; i < inboxes[t].n; i++) free(inboxes[t].item[i]);
  bench_clock_t t1 = bench_clock();
  free(inboxes);
  char extra[64];
  snprintf(extra, sizeof extra, "threads=%ld", nthreads);
  bench_report("rptest", t0, t1, nthreads * loops * batch * 2, extra);
  return 0;
}
