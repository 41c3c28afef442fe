/* xthread: cross-thread producer/consumer. One thread mallocs, another frees.
 *
 * The producer mallocs objects of random size (16..512 B), writes them and
 * hands them over in batches of BATCH pointers through a bounded queue
 * (QCAP batches, mutex + condition variables); the consumer reads and frees
 * every object of a batch. Every object is freed by a thread other than the
 * one that allocated it, so this measures the remote-free path: how freed
 * objects travel back to the allocating thread (thread cache -> central
 * list -> thread cache in tcmalloc-style allocators, remote free lists in
 * mimalloc, arenas/tcache bins in jemalloc and glibc).
 *
 * Hand-off is per batch and waits block instead of spinning, so the
 * synchronisation cost is small next to the allocator's. The two threads
 * are pinned to two different CPUs (when the process may use two): whether
 * they run on one core or two changes the cost of every remote free (cache
 * lines move between cores or not) by 2-4x, and without pinning a busy
 * machine decides that at random.
 * One op = one malloc in the producer + one free in the consumer.
 *
 * usage: xthread [ops=4000000] [batch=256] [qcap=16] [pin=1] */
#include "bench.h"

#include <pthread.h>
#include <sched.h>

/* The n-th CPU this process may run on, or -1. */
static int allowed_cpu(int n) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set)) return -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set) && n-- == 0) return c;
  return -1;
}

static void pin(pthread_t t, int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(t, sizeof set, &set);
}

typedef struct {
  pthread_mutex_t m;
  pthread_cond_t not_empty, not_full;
  long produced, consumed; /* batches */
  long batches, batch, qcap;
  char ***buf;             /* qcap + 1 batch buffers, used round robin */
} queue_t;

static void *consumer(void *arg) {
  queue_t *q = arg;
  unsigned long sum = 0;
  for (long b = 0; b < q->batches; b++) {
    pthread_mutex_lock(&q->m);
    while (q->consumed == q->produced) pthread_cond_wait(&q->not_empty, &q->m);
    pthread_mutex_unlock(&q->m);
    char **objs = q->buf[b % (q->qcap + 1)];
    for (long i = 0; i < q->batch; i++) {
      sum += (unsigned char)objs[i][0];
      free(objs[i]);
    }
    pthread_mutex_lock(&q->m);
    q->consumed++;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->m);
  }
  bench_sink ^= sum;
  return NULL;
}

int main(int argc, char **argv) {
  long ops = bench_arg_long(argc, argv, 1, 4000000);
  queue_t q;
  q.batch = bench_arg_long(argc, argv, 2, 256);
  q.qcap = bench_arg_long(argc, argv, 3, 16);
  if (q.batch < 1) q.batch = 1;
  if (q.qcap < 1) q.qcap = 1;
  q.batches = ops / q.batch;
  ops = q.batches * q.batch;
  q.produced = q.consumed = 0;
  pthread_mutex_init(&q.m, NULL);
  pthread_cond_init(&q.not_empty, NULL);
  pthread_cond_init(&q.not_full, NULL);
  q.buf = calloc((size_t)q.qcap + 1, sizeof *q.buf);
  for (long i = 0; i <= q.qcap; i++) q.buf[i] = calloc((size_t)q.batch, sizeof **q.buf);
  int cpu0 = -1, cpu1 = -1;
  if (bench_arg_long(argc, argv, 4, 1) && allowed_cpu(1) >= 0) {
    cpu0 = allowed_cpu(0);
    cpu1 = allowed_cpu(1);
  }
  pin(pthread_self(), cpu0);
  bench_rng_t r;
  bench_rng_seed(&r, 7);

  bench_clock_t t0 = bench_clock();
  pthread_t th;
  if (pthread_create(&th, NULL, consumer, &q)) return 1;
  pin(th, cpu1);
  for (long b = 0; b < q.batches; b++) {
    /* Buffer b % (qcap+1) is free: the producer runs at most qcap batches
     * ahead of the consumer's fully freed batches. */
    pthread_mutex_lock(&q.m);
    while (q.produced - q.consumed >= q.qcap) pthread_cond_wait(&q.not_full, &q.m);
    pthread_mutex_unlock(&q.m);
    char **objs = q.buf[b % (q.qcap + 1)];
    for (long i = 0; i < q.batch; i++) {
      size_t n = bench_rng_range(&r, 16, 512);
      char *p = malloc(n);
      p[0] = (char)i;
      p[n - 1] = (char)i;
      objs[i] = p;
    }
    pthread_mutex_lock(&q.m);
    q.produced++;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.m);
  }
  pthread_join(th, NULL);
  bench_clock_t t1 = bench_clock();
  for (long i = 0; i <= q.qcap; i++) free(q.buf[i]);
  free(q.buf);
  char extra[64];
  snprintf(extra, sizeof extra, "batch=%ld cpus=%d,%d", q.batch, cpu0, cpu1);
  bench_report("xthread", t0, t1, ops, extra);
  return 0;
}
