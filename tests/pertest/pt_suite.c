/* Per-test accounting and budgets (tests/pertest/check_pertest.py runs it).
 *
 * Group "resources", the suite the issue asks for:
 *   test_small         a few small blocks, freed
 *   test_cpu_heavy     ~CPU_MS of CPU (measured by the test itself on its
 *                      thread's CPU clock), little memory
 *   test_memory_heavy  a fixture of FIXTURE_BYTES, then HEAVY_BLOCKS blocks
 *                      of HEAVY_BLOCK bytes from grow_table() at once, all
 *                      freed before the end: peak far above the end state
 * Group "more": figures of other outcomes and threads.
 * Group "code_budgets": budgets set from the test's code.
 *
 * Each test prints "pt: NAME key=value ..." with what it knows of itself,
 * which the checker holds the runtime's figures against. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <heapscope/cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXTURE_BYTES (100 * 1024)
#define HEAVY_BLOCK (128 * 1024)
#define HEAVY_BLOCKS 64
#define CPU_MS 300

static uint64_t thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static volatile uint64_t sink;

/* Burns ms of this thread's CPU time. */
__attribute__((noinline)) static void burn_cpu(unsigned ms) {
  uint64_t until = thread_cpu_ns() + (uint64_t)ms * 1000000u, x = 88172645463325252ull;
  while (thread_cpu_ns() < until)
    for (int i = 0; i < 10000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  sink = x;
}

__attribute__((noinline)) static char **grow_table(size_t blocks, size_t size) {
  char **t = malloc(blocks * sizeof *t);
  for (size_t i = 0; i < blocks; i++) {
    t[i] = malloc(size);
    memset(t[i], (int)i, size);
  }
  return t;
}

static void free_table(char **t, size_t blocks) {
  for (size_t i = 0; i < blocks; i++) free(t[i]);
  free(t);
}

static void test_small(void **state) {
  (void)state;
  char *a = malloc(24), *b = calloc(4, 10);
  strcpy(a, "small");
  b[0] = a[0];
  assert_int_equal(b[0], 's');
  free(b);
  free(a);
  printf("pt: test_small allocs=2 alloc_bytes=64 peak=64\n");
}

static void test_cpu_heavy(void **state) {
  (void)state;
  uint64_t t0 = thread_cpu_ns();
  burn_cpu(CPU_MS);
  printf("pt: test_cpu_heavy body_cpu_ns=%llu\n", (unsigned long long)(thread_cpu_ns() - t0));
}

static int setup_fixture(void **state) {
  *state = malloc(FIXTURE_BYTES);
  return *state ? 0 : -1;
}

static int teardown_fixture(void **state) {
  free(*state);
  return 0;
}

static void test_memory_heavy(void **state) {
  memset(*state, 1, FIXTURE_BYTES);
  char **t = grow_table(HEAVY_BLOCKS, HEAVY_BLOCK);
  assert_non_null(t[HEAVY_BLOCKS - 1]);
  free_table(t, HEAVY_BLOCKS);
  /* The end state: one small block, freed before the test ends. */
  char *tail = malloc(4096);
  memset(tail, 2, 4096);
  free(tail);
  printf("pt: test_memory_heavy peak=%zu allocs=%d\n",
         (size_t)FIXTURE_BYTES + HEAVY_BLOCKS * sizeof(char *) + (size_t)HEAVY_BLOCKS * HEAVY_BLOCK,
         1 + 1 + HEAVY_BLOCKS + 1);
}

/* ---- group "more" ------------------------------------------------------------- */

static void *worker(void *arg) {
  char **t = grow_table(16, 64 * 1024); /* 1 MiB on another thread */
  free_table(t, 16);
  burn_cpu(50);
  return arg;
}

static void test_thread(void **state) {
  (void)state;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, worker, NULL), 0);
  pthread_join(th, NULL);
  printf("pt: test_thread worker_peak=%zu\n", 16 * sizeof(char *) + 16 * (size_t)64 * 1024);
}

static void test_leaks(void **state) {
  (void)state;
  char *p = malloc(333);
  p[0] = 1;
  p = NULL; /* leaked: 333 bytes */
}

static void test_fails(void **state) {
  (void)state;
  char *p = malloc(1000);
  free(p);
  fail_msg("pt: deliberate failure");
}

static void test_skips(void **state) {
  (void)state;
  skip();
}

static int setup_fails(void **state) {
  (void)state;
  return -1;
}

static void test_setup_fails(void **state) { (void)state; }

/* ---- group "code_budgets" ------------------------------------------------------- */

__attribute__((noinline)) static void *hog(size_t n) {
  void *p = malloc(n);
  memset(p, 3, n);
  return p;
}

static void test_code_peak_over(void **state) {
  (void)state;
  heapscope_cmocka_peak_bytes_at_most(10000); /* BUDGET-PEAK-CALL */
  void *p = hog(20000);
  free(p);
}

static void test_code_peak_under(void **state) {
  (void)state;
  heapscope_cmocka_peak_bytes_at_most(1 << 20);
  void *p = hog(20000);
  free(p);
}

static void test_code_cpu_over(void **state) {
  (void)state;
  heapscope_cmocka_cpu_seconds_at_most(0.02); /* BUDGET-CPU-CALL */
  burn_cpu(100);
}

/* 0 lifts an environment budget for this test. */
static void test_code_budget_off(void **state) {
  (void)state;
  heapscope_cmocka_peak_bytes_at_most(0);
  heapscope_cmocka_cpu_seconds_at_most(0);
  void *p = hog(4 << 20);
  burn_cpu(50);
  free(p);
}

int main(void) {
  /* stdio's buffer now, not in the first test that prints. */
  printf("pt: start\n");
  const struct CMUnitTest resources[] = {
      cmocka_unit_test(test_small),
      cmocka_unit_test(test_cpu_heavy),
      cmocka_unit_test_setup_teardown(test_memory_heavy, setup_fixture, teardown_fixture),
  };
  const struct CMUnitTest more[] = {
      cmocka_unit_test(test_thread),
      cmocka_unit_test(test_leaks),
      cmocka_unit_test(test_fails),
      cmocka_unit_test(test_skips),
      cmocka_unit_test_setup(test_setup_fails, setup_fails),
  };
  const struct CMUnitTest code_budgets[] = {
      cmocka_unit_test(test_code_peak_over),
      cmocka_unit_test(test_code_peak_under),
      cmocka_unit_test(test_code_cpu_over),
      cmocka_unit_test(test_code_budget_off),
  };
  int failed = cmocka_run_group_tests(resources, NULL, NULL);
  failed += cmocka_run_group_tests(more, NULL, NULL);
  failed += cmocka_run_group_tests(code_budgets, NULL, NULL);
  return failed;
}
