/* The example suite: six tests, two of which leak.
 *   test_put_get            clean
 *   test_describe           clean (frees what kv_describe returns)
 *   test_remove             LEAKS directly: kv_remove unlinks without freeing
 *   test_shout              LEAKS through a helper in kv_format.c
 *   test_well_known_keys    builds a lazy global cache: not a leak (normal)
 *   test_fixture_store      allocates in setup, frees in teardown: clean
 * Built twice: plain (zero-change mode, runtime preloaded) and with
 * -DHEAPSCOPE_EXPLICIT (heapscope_cmocka_run_group_tests, runtime linked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#ifdef HEAPSCOPE_EXPLICIT
#include <heapscope/cmocka.h>
#endif

#include "kvstore.h"

static void test_put_get(void **state) {
  (void)state;
  kv_store_t *kv = kv_open();
  assert_int_equal(kv_put(kv, "a", "1"), 0);
  assert_int_equal(kv_put(kv, "a", "2"), 0);
  assert_string_equal(kv_get(kv, "a"), "2");
  assert_int_equal(kv_count(kv), 1);
  kv_close(kv);
}

static void test_describe(void **state) {
  (void)state;
  kv_store_t *kv = kv_open();
  kv_put(kv, "host", "example.org");
  char *d = kv_describe(kv, "host");
  assert_string_equal(d, "host=example.org");
  free(d);
  kv_close(kv);
}

static void test_remove(void **state) {
  (void)state;
  kv_store_t *kv = kv_open();
  kv_put(kv, "k", "v");
  assert_int_equal(kv_remove(kv, "k"), 0);
  assert_int_equal(kv_count(kv), 0);
  kv_close(kv);
}

static void test_shout(void **state) {
  (void)state;
  kv_store_t *kv = kv_open();
  kv_put(kv, "greeting", "hello");
  char *s = kv_shout(kv, "greeting");
  assert_string_equal(s, "HELLO");
  free(s);
  kv_close(kv);
}

static void test_well_known_keys(void **state) {
  (void)state;
  size_t n;
  const char *const *keys = kv_well_known_keys(&n);
  assert_int_equal(n, 4);
  assert_string_equal(keys[0], "host");
}

static int setup_store(void **state) {
  kv_store_t *kv = kv_open();
  kv_put(kv, "user", "root");
  *state = kv;
  return 0;
}

static int teardown_store(void **state) {
  kv_close(*state);
  return 0;
}

static void test_fixture_store(void **state) {
  kv_store_t *kv = *state;
  assert_string_equal(kv_get(kv, "user"), "root");
  kv_put(kv, "timeout", "30");
  assert_int_equal(kv_count(kv), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get),
      cmocka_unit_test(test_describe),
      cmocka_unit_test(test_remove),
      cmocka_unit_test(test_shout),
      cmocka_unit_test(test_well_known_keys),
      cmocka_unit_test_setup_teardown(test_fixture_store, setup_store, teardown_store),
  };
#ifdef HEAPSCOPE_EXPLICIT
  return heapscope_cmocka_run_group_tests(tests, NULL, NULL);
#else
  return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
