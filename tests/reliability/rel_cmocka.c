/* A per-test leak check that cannot give a verdict must fail the test
 * (issue 9), never let it pass: here a thread that blocks every signal spins
 * while holding the test's block on its stack, so the check cannot pause it
 * and the block looks leaked. The test without a teardown must be FAILED,
 * the one with a teardown ERROR, both with heapscope's reason; the clean
 * test still passes. run.sh reads CMocka's verdict lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int stop, holding;
static pthread_t spinners[2];
static int nspinners;

static void *spin_blocked(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  char *volatile held = malloc(40);
  atomic_store(&holding, 1);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) held[0]++;
  free(held);
  return NULL;
}

static void start_spinner(void) {
  atomic_store(&holding, 0);
  pthread_create(&spinners[nspinners++], NULL, spin_blocked, NULL);
  while (!atomic_load(&holding)) sched_yield();
}

static void test_unverifiable_body(void **state) {
  (void)state;
  start_spinner();
}

static void test_unverifiable_teardown(void **state) {
  (void)state;
  start_spinner();
}

static int teardown_nothing(void **state) {
  (void)state;
  return 0;
}

static void test_clean(void **state) {
  (void)state;
  void *p = malloc(10);
  assert_non_null(p); /* also keeps libcmocka linked (--as-needed) */
  free(p);
}

static int stop_spinners(void **state) {
  (void)state;
  atomic_store(&stop, 1);
  for (int i = 0; i < nspinners; i++) pthread_join(spinners[i], NULL);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unverifiable_body),
      cmocka_unit_test_teardown(test_unverifiable_teardown, teardown_nothing),
      cmocka_unit_test(test_clean),
  };
  return cmocka_run_group_tests(tests, NULL, stop_spinners);
}
