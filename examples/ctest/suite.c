/* A CMocka suite with four tests; test_label_leaks leaks the label that
 * label_make (labels.c) allocated. With heapscope's CMocka adapter each
 * CTest test runs one of these (HEAPSCOPE_CMOCKA_FILTER) and only
 * suite.test_label_leaks fails. Nothing heapscope-specific in the source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "labels.h"

static void test_arithmetic(void **state) {
  (void)state;
  assert_int_equal(2 + 2, 4);
}

static void test_label_freed(void **state) {
  (void)state;
  char *s = label_make("error", "disk full");
  assert_string_equal(s, "error: disk full");
  free(s);
}

static void test_label_leaks(void **state) {
  (void)state;
  char *s = label_make("warning", "low battery");
  assert_int_equal(strlen(s), strlen("warning: low battery"));
  /* LEAK: s is never freed */
}

static int setup_buffer(void **state) {
  *state = calloc(64, 1);
  return *state ? 0 : -1;
}

static int teardown_buffer(void **state) {
  free(*state);
  return 0;
}

static void test_fixture_buffer(void **state) {
  char *buf = *state;
  strcpy(buf, "scratch");
  assert_string_equal(buf, "scratch");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arithmetic),
      cmocka_unit_test(test_label_freed),
      cmocka_unit_test(test_label_leaks),
      cmocka_unit_test_setup_teardown(test_fixture_buffer, setup_buffer, teardown_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
