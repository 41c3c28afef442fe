/* A suite that calls cmocka_run_group_tests three times (three groups, each
 * with group fixtures): every group's tests are checked on their own, a
 * filter selects tests across groups, and groups with no selected test are
 * not run at all. Built against the shared and the static libcmocka.
 * Expected: alpha_leaks, beta_fails and gamma_leaks fail; alpha_skips is
 * skipped; the process exits with 3 (CMocka's failure counts summed).
 * An argument is a skip filter for cmocka_set_skip_filter(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

__attribute__((noinline)) static void *grab(size_t n) {
  void *p = malloc(n);
  memset(p, 0x11, n);
  return p;
}

static void *group_block;

static int group_setup(void **state) {
  (void)state;
  printf("group-setup-ran\n");
  group_block = grab(100); /* the group's, freed by its teardown */
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  free(group_block);
  group_block = NULL;
  return 0;
}

static void alpha_clean(void **state) {
  (void)state;
  free(grab(10));
}

static void alpha_leaks(void **state) {
  (void)state;
  void *volatile p = grab(24); /* LEAK: alpha */
  p = NULL;
}

static void alpha_skips(void **state) {
  (void)state;
  skip();
}

static void beta_clean(void **state) {
  (void)state;
  assert_non_null(group_block);
}

static void beta_fails(void **state) {
  (void)state;
  assert_int_equal(1, 0);
}

static int gamma_setup(void **state) {
  *state = grab(16);
  return 0;
}

static int gamma_teardown(void **state) {
  free(*state);
  return 0;
}

static void gamma_leaks(void **state) {
  assert_non_null(*state);
  void *volatile p = grab(40); /* LEAK: gamma */
  p = NULL;
}

static void gamma_clean(void **state) { assert_non_null(*state); }

int main(int argc, char **argv) {
  /* CMocka's own filter, set by the program: the adapter must learn it
   * (interposed, or redirected when CMocka is static). */
  if (argc > 1) cmocka_set_skip_filter(argv[1]);
  const struct CMUnitTest alpha[] = {
      cmocka_unit_test(alpha_clean),
      cmocka_unit_test(alpha_leaks),
      cmocka_unit_test(alpha_skips),
  };
  const struct CMUnitTest beta[] = {
      cmocka_unit_test(beta_clean),
      cmocka_unit_test(beta_fails),
  };
  const struct CMUnitTest gamma[] = {
      cmocka_unit_test_setup_teardown(gamma_leaks, gamma_setup, gamma_teardown),
      cmocka_unit_test_setup_teardown(gamma_clean, gamma_setup, gamma_teardown),
  };
  int failed = cmocka_run_group_tests(alpha, group_setup, group_teardown);
  failed += cmocka_run_group_tests(beta, group_setup, group_teardown);
  failed += cmocka_run_group_tests(gamma, NULL, NULL);
  return failed;
}
