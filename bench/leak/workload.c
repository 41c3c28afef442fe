/* Leak-check benchmark workload: a test-like program.
 *
 * It runs TESTS "tests". Each test builds and tears down data structures:
 * OPS allocations of 16..512 bytes, each made at the bottom of a call
 * chain 8..30 frames deep (through 4 different families of functions, so
 * there are ~90 distinct allocation stacks x 3 sites), keeps a window of
 * live objects linked to each other, frees half of them as it goes and
 * the rest when the test ends. Everything is freed at exit: a leak checker
 * must find nothing.
 *
 *   workload [tests=7000] [ops=1000] [threads=1]
 *
 * Default: 7,000,000 allocations. With threads=2 the tests are split over
 * two threads. Prints one line:
 *   RESULT workload allocs=N secs=S main_end_ns=T
 * secs is the time of main's body (CLOCK_MONOTONIC); main_end_ns the
 * CLOCK_MONOTONIC time at the end of main, so that the driver can tell how
 * long the exit (and an exit-time leak check) took. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

typedef struct node {
  struct node *next;
  uint32_t size;
  uint32_t tag;
} node_t;

typedef struct test_state {
  uint64_t rng;
  node_t **slots;
  int nslots;
  node_t *list;
  long allocs;
} test_state_t;

static inline uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* The allocation sites at the bottom of the chains. */
NOINLINE static node_t *site_a(test_state_t *t, size_t n) {
  node_t *p = malloc(n);
  p->size = (uint32_t)n;
  p->tag = 1;
  return p;
}
NOINLINE static node_t *site_b(test_state_t *t, size_t n) {
  node_t *p = calloc(1, n);
  p->size = (uint32_t)n;
  p->tag = 2;
  return p;
}
NOINLINE static node_t *site_c(test_state_t *t, size_t n) {
  node_t *p = malloc(n);
  memset(p, 0, sizeof *p);
  p->size = (uint32_t)n;
  p->tag = 3;
  return p;
}

static node_t *alloc_at(test_state_t *t, size_t n) {
  switch (xorshift(&t->rng) % 3) {
  case 0: return site_a(t, n);
  case 1: return site_b(t, n);
  default: return site_c(t, n);
  }
}

/* Four families of recursive descent; each frame is a real frame
 * (noinline, no sibling calls: built with -fno-optimize-sibling-calls). */
#define FAMILY(name, other)                                                    \
  NOINLINE node_t *name(test_state_t *t, int depth, size_t n);                 \
  NOINLINE node_t *name(test_state_t *t, int depth, size_t n) {                \
    if (depth <= 1) return alloc_at(t, n);                                     \
    node_t *r = (depth % 5 == 0) ? other(t, depth - 1, n) : name(t, depth - 1, n); \
    __asm__ volatile("" ::: "memory");                                         \
    return r;                                                                  \
  }
NOINLINE node_t *fam_b(test_state_t *t, int depth, size_t n);
NOINLINE node_t *fam_c(test_state_t *t, int depth, size_t n);
NOINLINE node_t *fam_d(test_state_t *t, int depth, size_t n);
FAMILY(fam_a, fam_b)
FAMILY(fam_b, fam_c)
FAMILY(fam_c, fam_d)
FAMILY(fam_d, fam_a)

static node_t *(*const families[4])(test_state_t *, int, size_t) = {fam_a, fam_b, fam_c, fam_d};

NOINLINE static void run_test(test_state_t *t, int ops) {
  for (int i = 0; i < ops; i++) {
    uint64_t r = xorshift(&t->rng);
    size_t n = 16 + (size_t)(r % 497);        /* 16..512 */
    int depth = 8 + (int)((r >> 16) % 23) - 2; /* + the 2 frames below: 8..30 */
    node_t *p = families[(r >> 24) & 3](t, depth, n);
    t->allocs++;
    int s = (int)((r >> 32) % (uint64_t)t->nslots);
    if (t->slots[s]) {
      /* Half of the displaced objects are freed now, half go on the list
       * that the end of the test frees. */
      if (r & (1ull << 40)) {
        free(t->slots[s]);
      } else {
        t->slots[s]->next = t->list;
        t->list = t->slots[s];
      }
    }
    t->slots[s] = p;
  }
  for (int s = 0; s < t->nslots; s++) {
    free(t->slots[s]);
    t->slots[s] = NULL;
  }
  while (t->list) {
    node_t *n = t->list->next;
    free(t->list);
    t->list = n;
  }
}

typedef struct worker_arg {
  int tests, ops, id;
  long allocs;
} worker_arg_t;

static void *worker(void *arg_) {
  worker_arg_t *a = arg_;
  test_state_t t;
  memset(&t, 0, sizeof t);
  t.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(a->id + 1) * 0x100000001b3ull;
  t.nslots = 256;
  t.slots = calloc((size_t)t.nslots, sizeof *t.slots);
  for (int i = 0; i < a->tests; i++) run_test(&t, a->ops);
  free(t.slots);
  a->allocs = t.allocs;
  return NULL;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int tests = argc > 1 ? atoi(argv[1]) : 7000;
  int ops = argc > 2 ? atoi(argv[2]) : 1000;
  int threads = argc > 3 ? atoi(argv[3]) : 1;
  if (threads < 1 || threads > 64) threads = 1;
  uint64_t t0 = now_ns();
  pthread_t th[64];
  worker_arg_t args[64];
  long allocs = 0;
  for (int i = 0; i < threads; i++) {
    args[i] = (worker_arg_t){tests / threads + (i < tests % threads), ops, i, 0};
    if (threads == 1) worker(&args[i]);
    else pthread_create(&th[i], NULL, worker, &args[i]);
  }
  for (int i = 0; i < threads; i++) {
    if (threads > 1) pthread_join(th[i], NULL);
    allocs += args[i].allocs;
  }
  uint64_t t1 = now_ns();
  printf("RESULT workload allocs=%ld threads=%d secs=%.3f main_end_ns=%llu\n", allocs, threads,
         (t1 - t0) / 1e9, (unsigned long long)t1);
  fflush(stdout);
  return 0;
}
