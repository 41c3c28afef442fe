/* CMocka adapter edge cases, one test per behaviour the adapter promises.
 * run_cmocka_suite.py knows the expected verdict of each test by name:
 * names starting with "leak_" must fail with a heapscope report, "clean_"
 * must pass, the rest are checked individually. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <heapscope/cmocka.h>

static void *group_owned;

__attribute__((noinline)) static void *make_block(size_t n) {
  void *p = malloc(n);
  memset(p, 0x5a, n);
  return p;
}

static void clean_alloc_free(void **state) {
  (void)state;
  free(make_block(64));
}

static void leak_plain(void **state) {
  (void)state;
  void *volatile p = make_block(40); /* LEAK: leak_plain */
  p = NULL;
}

static void leak_and_fail(void **state) {
  (void)state;
  void *volatile p = make_block(24); /* LEAK: leak_and_fail */
  p = NULL;
  assert_int_equal(1, 2);
}

static void fail_only(void **state) {
  (void)state;
  assert_int_equal(3, 4);
}

static void skipped(void **state) {
  (void)state;
  skip();
}

static void clean_test_malloc(void **state) {
  (void)state;
  char *p = test_malloc(32);
  strcpy(p, "cmocka's own allocator");
  test_free(p);
}

static void *worker(void *arg) {
  /* The only pointer to the block lives on this thread's stack while the
   * test ends: a running thread's stack is a root, so no leak. */
  void *volatile block = make_block(128);
  volatile int *stop = arg;
  while (!*stop) usleep(1000);
  free(block);
  return NULL;
}

static volatile int stop_worker;
static pthread_t worker_thread;

static void clean_running_thread(void **state) {
  (void)state;
  pthread_create(&worker_thread, NULL, worker, (void *)&stop_worker);
  usleep(20000);
}

static void clean_join_thread(void **state) {
  (void)state;
  stop_worker = 1;
  pthread_join(worker_thread, NULL);
}

static void region_fails(void **state) {
  (void)state;
  assert_no_leaks_begin();
  void *volatile p = make_block(16); /* LEAK: region */
  p = NULL;
  assert_no_leaks_end(); /* REGION-END */
}

static void clean_region_allows(void **state) {
  (void)state;
  assert_no_leaks_begin();
  void *volatile p = make_block(16);
  p = NULL;
  assert_leaks_at_most(16);
}

static void clean_expect_leaks(void **state) {
  (void)state;
  heapscope_cmocka_expect_leaks(2);
  void *volatile a = make_block(8);
  void *volatile b = make_block(8);
  a = b = NULL;
}

static void expect_leaks_wrong(void **state) {
  (void)state;
  heapscope_cmocka_expect_leaks(2);
  void *volatile a = make_block(8);
  a = NULL;
}

static void clean_skip_check(void **state) {
  (void)state;
  heapscope_cmocka_skip_leak_check();
  void *volatile a = make_block(8);
  a = NULL;
}

static void clean_skipped_by_env(void **state) {
  (void)state;
  void *volatile a = make_block(8); /* HEAPSCOPE_CMOCKA_SKIP names this test */
  a = NULL;
}

static int setup_leaky(void **state) {
  *state = make_block(48); /* LEAK: setup */
  return 0;
}

static void leak_from_setup(void **state) { assert_non_null(*state); }

static int setup_pair(void **state) {
  *state = make_block(48);
  return 0;
}

static int teardown_pair(void **state) {
  free(*state);
  return 0;
}

static void clean_setup_teardown(void **state) { assert_non_null(*state); }

/* skip() after leaking: a skipped test's leaks are still leaks. */
static void leak_then_skip(void **state) {
  (void)state;
  void *volatile p = make_block(72); /* LEAK: leak_then_skip */
  p = NULL;
  skip();
}

static int setup_owned(void **state) {
  *state = make_block(32);
  return 0;
}

static int teardown_owned(void **state) {
  free(*state);
  return 0;
}

static void leak_then_skip_teardown(void **state) {
  assert_non_null(*state); /* freed by the teardown: not a leak */
  void *volatile p = make_block(88); /* LEAK: leak_then_skip_teardown */
  p = NULL;
  skip();
}

static void clean_skip_teardown(void **state) {
  assert_non_null(*state);
  skip();
}

static void leak_and_fail_teardown(void **state) {
  assert_non_null(*state);
  void *volatile p = make_block(56); /* LEAK: leak_and_fail_teardown */
  p = NULL;
  assert_int_equal(5, 6);
}

static void expect_leaks_none(void **state) {
  (void)state;
  heapscope_cmocka_expect_leaks(1); /* EXPECT-CALL */
}

/* A reported leak must not keep later blocks alive: this one holds the
 * address of a block it freed, which the next test's leak will reuse (the
 * thread cache hands back the last block freed of a size class). */
static uintptr_t stale_address;

static void leak_holds_stale_pointer(void **state) {
  (void)state;
  void *gone = malloc(200);
  stale_address = (uintptr_t)gone;
  free(gone);
  uintptr_t *volatile holder = make_block(64); /* LEAK: stale holder */
  holder[0] = stale_address;
  holder = NULL;
  stale_address ^= 1; /* kept for the next test, but not as a pointer to the block */
}

static void leak_at_reused_address(void **state) {
  (void)state;
  void *volatile p = malloc(200); /* LEAK: reused address */
  assert_true((uintptr_t)p == (stale_address ^ 1)); /* the address the stale pointer names */
  p = NULL;
  stale_address = 0; /* a global is a root */
}

static void clean_uses_group_state(void **state) {
  (void)state;
  assert_non_null(group_owned);
}

static int group_setup(void **state) {
  (void)state;
  group_owned = make_block(256); /* freed by group teardown: never a test's */
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  free(group_owned);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clean_alloc_free),
      cmocka_unit_test(leak_plain),
      cmocka_unit_test(leak_and_fail),
      cmocka_unit_test(fail_only),
      cmocka_unit_test(skipped),
      cmocka_unit_test(clean_test_malloc),
      cmocka_unit_test(clean_running_thread),
      cmocka_unit_test(clean_join_thread),
      cmocka_unit_test(region_fails),
      cmocka_unit_test(clean_region_allows),
      cmocka_unit_test(clean_expect_leaks),
      cmocka_unit_test(expect_leaks_wrong),
      cmocka_unit_test(clean_skip_check),
      cmocka_unit_test(clean_skipped_by_env),
      cmocka_unit_test_setup(leak_from_setup, setup_leaky),
      cmocka_unit_test_setup_teardown(clean_setup_teardown, setup_pair, teardown_pair),
      cmocka_unit_test(clean_uses_group_state),
      cmocka_unit_test(leak_then_skip),
      cmocka_unit_test_setup_teardown(leak_then_skip_teardown, setup_owned, teardown_owned),
      cmocka_unit_test_setup_teardown(clean_skip_teardown, setup_owned, teardown_owned),
      cmocka_unit_test_setup_teardown(leak_and_fail_teardown, setup_owned, teardown_owned),
      cmocka_unit_test(expect_leaks_none),
      cmocka_unit_test(leak_holds_stale_pointer),
      cmocka_unit_test(leak_at_reused_address),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
