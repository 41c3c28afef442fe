/* Profiles split by test (tests/pertest/check_split.py runs it).
 *
 * Each test allocates (and burns CPU) from functions of its own, so a
 * profile's per-test split can be checked by function name:
 *   test_alpha   alpha_alloc: ALPHA_BLOCKS x ALPHA_BLOCK, freed; alpha_keep:
 *                one KEEP_BYTES block kept in a global and freed by
 *                test_beta (it must come off alpha's in-use, not beta's);
 *                alpha_burn: ALPHA_MS of CPU
 *   test_beta    a heap profile dump (when profiling) first; beta_alloc: BETA_BLOCKS x BETA_BLOCK, freed, and the same
 *                from a worker thread (beta_worker_alloc); beta_burn:
 *                BETA_MS of CPU
 *   test_gamma   nothing at all (too short to be sampled)
 *   "odd name/with:chars*"  odd_alloc: one block, freed (file names)
 * The group's setup allocates from outside_alloc (outside every test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gperftools/heap-profiler.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALPHA_BLOCKS 4
#define ALPHA_BLOCK 4096
#define KEEP_BYTES 777
#define BETA_BLOCKS 3
#define BETA_BLOCK 1000
#define ALPHA_MS 120
#define BETA_MS 40

static volatile uint64_t sink;
static void *carried, *outside;

static uint64_t thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void burn(unsigned ms) {
  uint64_t until = thread_cpu_ns() + (uint64_t)ms * 1000000u, x = 88172645463325252ull;
  while (thread_cpu_ns() < until)
    for (int i = 0; i < 10000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  sink = x;
}

/* One function per test, so the profiles can be told apart by name. */
__attribute__((noinline)) void alpha_burn(void) { burn(ALPHA_MS); }
__attribute__((noinline)) void beta_burn(void) { burn(BETA_MS); }

__attribute__((noinline)) void *alpha_alloc(size_t n) {
  void *p = malloc(n);
  memset(p, 1, n);
  return p;
}
__attribute__((noinline)) void *alpha_keep(size_t n) {
  void *p = malloc(n);
  memset(p, 2, n);
  return p;
}
__attribute__((noinline)) void *beta_alloc(size_t n) {
  void *p = malloc(n);
  memset(p, 3, n);
  return p;
}
__attribute__((noinline)) void *beta_worker_alloc(size_t n) {
  void *p = malloc(n);
  memset(p, 4, n);
  return p;
}
__attribute__((noinline)) void *odd_alloc(size_t n) {
  void *p = malloc(n);
  memset(p, 5, n);
  return p;
}
__attribute__((noinline)) void *outside_alloc(size_t n) {
  void *p = malloc(n);
  memset(p, 6, n);
  return p;
}

static void test_alpha(void **state) {
  void *b[ALPHA_BLOCKS];
  for (int i = 0; i < ALPHA_BLOCKS; i++) b[i] = alpha_alloc(ALPHA_BLOCK);
  for (int i = 0; i < ALPHA_BLOCKS; i++) free(b[i]);
  carried = alpha_keep(KEEP_BYTES);
  alpha_burn();
}

static void *beta_worker(void *arg) {
  void *b[BETA_BLOCKS];
  for (int i = 0; i < BETA_BLOCKS; i++) b[i] = beta_worker_alloc(BETA_BLOCK);
  for (int i = 0; i < BETA_BLOCKS; i++) free(b[i]);
  return arg;
}

static void test_beta(void **state) {
  /* A dump while alpha's kept block is live (and none of beta's yet). */
  if (IsHeapProfilerRunning()) HeapProfilerDump("test_beta begins");
  void *b[BETA_BLOCKS];
  for (int i = 0; i < BETA_BLOCKS; i++) b[i] = beta_alloc(BETA_BLOCK);
  for (int i = 0; i < BETA_BLOCKS; i++) free(b[i]);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, beta_worker, NULL), 0);
  pthread_join(t, NULL);
  free(carried); /* alpha's block: off alpha's in-use */
  carried = NULL;
  beta_burn();
}

static void test_gamma(void **state) {}

static void test_odd(void **state) { free(odd_alloc(64)); }

static int group_setup(void **state) {
  outside = outside_alloc(5000);
  return 0;
}

static int group_teardown(void **state) {
  free(outside);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alpha),
      cmocka_unit_test(test_beta),
      cmocka_unit_test(test_gamma),
      {"odd name/with:chars*", test_odd, NULL, NULL, NULL},
  };
  return cmocka_run_group_tests_name("split", tests, group_setup, group_teardown);
}
