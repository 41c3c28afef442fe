/* skip() under per-test CTest discovery: a test that skips is reported
 * skipped by CTest in every CMocka output format (XML included, where
 * CMocka prints nothing on stdout); one that leaks and then skips fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_runs(void **state) {
  (void)state;
  free(malloc(8));
}

static void test_skips(void **state) {
  (void)state;
  skip();
}

static void test_leaks_then_skips(void **state) {
  (void)state;
  char *volatile p = malloc(33);
  strcpy(p, "kept before skipping");
  p = NULL;
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runs),
      cmocka_unit_test(test_skips),
      cmocka_unit_test(test_leaks_then_skips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
